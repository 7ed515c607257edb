// Built from js/packages/client/src/capture-worklet.ts by `make js` (js/scripts/build-static.mjs): edit the TypeScript, not this file.
// The microphone AudioWorklet BrowserChannel loads by URL from beside voicewire.js (24 kHz PCM16 frames).

// packages/client/src/capture-worklet.ts
var TAPS = 31;
function lowpass(taps, cutoff) {
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.42 - 0.5 * Math.cos(2 * Math.PI * i / (taps - 1)) + 0.08 * Math.cos(4 * Math.PI * i / (taps - 1));
    h[i] = sinc * window;
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}
var VoicewireCapture = class extends AudioWorkletProcessor {
  targetRate;
  step;
  taps;
  history;
  mono = new Float32Array(128);
  filtered = new Float32Array(128);
  previous = 0;
  // the last filtered sample of the previous block (index -1)
  position = 0;
  // where the next output sample falls, in input samples from this block
  frameSize;
  frame;
  filled = 0;
  enabled = true;
  constructor(options) {
    super();
    const opts = options && options.processorOptions || {};
    this.targetRate = opts.targetRate || 24e3;
    const frameMs = opts.frameMs || 20;
    this.step = sampleRate / this.targetRate;
    this.taps = this.step > 1 ? lowpass(TAPS, 0.5 / this.step * 0.9) : null;
    this.history = new Float32Array(this.taps ? this.taps.length - 1 : 0);
    this.frameSize = Math.max(1, Math.round(this.targetRate * frameMs / 1e3));
    this.frame = new Int16Array(this.frameSize);
    this.port.onmessage = (event) => {
      const data = event.data || {};
      if (data.type === "enabled") this.enabled = Boolean(data.value);
    };
  }
  grow(n) {
    if (this.mono.length < n) {
      this.mono = new Float32Array(n);
      this.filtered = new Float32Array(n);
    }
  }
  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const n = input[0].length;
    this.grow(n);
    const mono = this.mono;
    if (input.length === 1) {
      mono.set(input[0]);
    } else {
      mono.fill(0, 0, n);
      for (const channel of input) for (let i = 0; i < n; i++) mono[i] += channel[i];
      for (let i = 0; i < n; i++) mono[i] /= input.length;
    }
    const filtered = this.filtered;
    const taps = this.taps;
    if (taps) {
      const history = this.history;
      const h = history.length;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let k = 0; k < taps.length; k++) {
          const j = i - k;
          acc += taps[k] * (j >= 0 ? mono[j] : history[h + j]);
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
      const a = i < 0 ? this.previous : filtered[i];
      const b = filtered[i + 1];
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
    this.previous = filtered[n - 1];
    return true;
  }
};
registerProcessor("voicewire-capture", VoicewireCapture);
