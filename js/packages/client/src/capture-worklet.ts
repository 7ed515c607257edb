/**
 * voicewire capture worklet: microphone audio at the AudioContext's own rate (44.1 kHz, 48 kHz,
 * whatever the device gives) -> mono PCM16 at the wire rate (24 kHz), posted to the main thread
 * in frames of `frameMs` as transferable ArrayBuffers.
 *
 * Resampling: a windowed-sinc low-pass (when downsampling) followed by linear interpolation,
 * streamed across render quanta so there are no seams between blocks.
 *
 * It runs in the AudioWorkletGlobalScope, loaded by URL with `audioWorklet.addModule()`: it is
 * built as its own file, importing nothing.
 */

// The AudioWorkletGlobalScope's names (TypeScript's DOM library does not declare this scope).
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
}
declare function registerProcessor(
  name: string,
  processor: new (options?: AudioWorkletNodeOptions) => AudioWorkletProcessor,
): void;

const TAPS = 31;

function lowpass(taps: number, cutoff: number): Float32Array {
  // cutoff: a fraction of the input sample rate (0 < cutoff < 0.5)
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window =
      0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
    h[i] = sinc * window;
    sum += h[i]!;
  }
  for (let i = 0; i < taps; i++) h[i]! /= sum;
  return h;
}

interface CaptureOptions {
  targetRate?: number;
  frameMs?: number;
}

class VoicewireCapture extends AudioWorkletProcessor {
  private readonly targetRate: number;
  private readonly step: number;
  private readonly taps: Float32Array | null;
  private readonly history: Float32Array;
  private mono = new Float32Array(128);
  private filtered = new Float32Array(128);
  private previous = 0; // the last filtered sample of the previous block (index -1)
  private position = 0; // where the next output sample falls, in input samples from this block
  private readonly frameSize: number;
  private frame: Int16Array;
  private filled = 0;
  private enabled = true;

  constructor(options?: AudioWorkletNodeOptions) {
    super();
    const opts = ((options && options.processorOptions) || {}) as CaptureOptions;
    this.targetRate = opts.targetRate || 24000;
    const frameMs = opts.frameMs || 20;
    // `sampleRate` is the AudioContext's real rate (a global of the worklet scope).
    this.step = sampleRate / this.targetRate;
    this.taps = this.step > 1 ? lowpass(TAPS, (0.5 / this.step) * 0.9) : null;
    this.history = new Float32Array(this.taps ? this.taps.length - 1 : 0);
    this.frameSize = Math.max(1, Math.round((this.targetRate * frameMs) / 1000));
    this.frame = new Int16Array(this.frameSize);
    this.port.onmessage = (event: MessageEvent<{ type?: string; value?: unknown } | null>) => {
      const data = event.data || {};
      if (data.type === "enabled") this.enabled = Boolean(data.value);
    };
  }

  grow(n: number): void {
    if (this.mono.length < n) {
      this.mono = new Float32Array(n);
      this.filtered = new Float32Array(n);
    }
  }

  process(inputs: Float32Array[][]): boolean {
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const n = input[0].length;
    this.grow(n);
    const mono = this.mono;
    if (input.length === 1) {
      mono.set(input[0]);
    } else {
      mono.fill(0, 0, n);
      for (const channel of input) for (let i = 0; i < n; i++) mono[i]! += channel[i]!;
      for (let i = 0; i < n; i++) mono[i]! /= input.length;
    }
    const filtered = this.filtered;
    const taps = this.taps;
    if (taps) {
      const history = this.history;
      const h = history.length;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        // sample k of the virtual stream history ++ mono, newest first
        for (let k = 0; k < taps.length; k++) {
          const j = i - k;
          acc += taps[k]! * (j >= 0 ? mono[j]! : history[h + j]!);
        }
        filtered[i] = acc;
      }
      if (n >= h) {
        history.set(mono.subarray(n - h, n));
      } else {
        history.copyWithin(0, n);
        history.set(mono.subarray(0, n), h - n);
      }
    } else {
      filtered.set(mono.subarray(0, n));
    }
    let p = this.position;
    while (p < n - 1) {
      const i = Math.floor(p);
      const frac = p - i;
      const a = i < 0 ? this.previous : filtered[i]!;
      const b = filtered[i + 1]!;
      const v = a + (b - a) * frac;
      const s = v >= 1 ? 32767 : v <= -1 ? -32768 : Math.round(v * 32767);
      this.frame[this.filled++] = s;
      if (this.filled === this.frameSize) {
        if (this.enabled) this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Int16Array(this.frameSize);
        this.filled = 0;
      }
      p += this.step;
    }
    this.position = p - n;
    this.previous = filtered[n - 1]!;
    return true;
  }
}

registerProcessor("voicewire-capture", VoicewireCapture);
