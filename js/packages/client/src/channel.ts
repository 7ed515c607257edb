/**
 * BrowserChannel: microphone capture and speaker playback for one realtime session.
 *
 * The microphone goes through an AudioWorklet (`capture-worklet.js`, loaded as its own module
 * URL, next to this module unless `workletUrl` says otherwise) that resamples from the
 * AudioContext's real rate to 24 kHz PCM16. Playback is a queue of AudioBufferSources that knows
 * how much of each assistant item the listener has actually heard.
 */

import { Emitter } from "./emitter.js";
import { base64ToBytes, pcm16ToFloat32, WIRE_RATE } from "./pcm.js";

const PLAYBACK_LEAD_S = 0.05; // scheduling lead: absorbs network jitter on the first chunk
const ITEMS_KEPT = 64; // items whose playback positions are remembered

export interface BrowserChannelOptions {
  /** Capture frame length in milliseconds (default 20). */
  frameMs?: number;
  /** getUserMedia audio constraints (default: mono, echo cancellation, noise suppression, AGC). */
  audio?: boolean | MediaTrackConstraints;
  /** Capture the microphone (default true; false: playback only). */
  microphone?: boolean;
  /** Where capture-worklet.js is served (default: next to this module). */
  workletUrl?: string | URL;
}

/** What `interrupt()` stopped: the item that was playing and how much of it was heard. */
export interface Interruption {
  itemId: string;
  playedMs: number;
}

export type BrowserChannelEvents = {
  /** One frame of 24 kHz mono PCM16 (platform-order Int16 samples) from the microphone. */
  audio: [frame: ArrayBuffer];
  /** Playback drained (or was interrupted). */
  idle: [];
  error: [error: Error];
};

interface Segment {
  start: number;
  dur: number;
}

interface PlayedItem {
  segments: Segment[];
  frozenMs: number | null;
}

function rmsOf(analyser: AnalyserNode | null, scratch: Float32Array<ArrayBuffer> | null): number {
  if (!analyser || !scratch) return 0;
  analyser.getFloatTimeDomainData(scratch);
  let sum = 0;
  for (let i = 0; i < scratch.length; i++) sum += scratch[i]! * scratch[i]!;
  return Math.sqrt(sum / scratch.length);
}

/**
 * Microphone capture and speaker playback for one realtime session.
 *
 * Events: `audio` (ArrayBuffer of 24 kHz mono PCM16, one frame), `idle` (playback drained),
 * `error`.
 */
export class BrowserChannel extends Emitter<BrowserChannelEvents> {
  readonly options: BrowserChannelOptions;
  readonly frameMs: number;
  context: AudioContext | null = null;
  stream: MediaStream | null = null;
  private _source: MediaStreamAudioSourceNode | null = null;
  private _worklet: AudioWorkletNode | null = null;
  private _sink: GainNode | null = null;
  private _input: AnalyserNode | null = null;
  private _output: AnalyserNode | null = null;
  private _scratch: Float32Array<ArrayBuffer> | null = null;
  private readonly _sources = new Set<AudioBufferSourceNode>();
  private _nextTime = 0;
  private readonly _items = new Map<string, PlayedItem>();
  private _order: string[] = []; // item ids in arrival order (bounded)
  private _current: string | null = null; // the item whose audio was scheduled last
  private _init: Promise<void> | null = null;

  constructor(options: BrowserChannelOptions = {}) {
    super();
    this.options = options;
    this.frameMs = options.frameMs || 20;
  }

  get initialized(): boolean {
    return this.context !== null;
  }

  /** The AudioContext's real sample rate (never assume 48000). */
  get sampleRate(): number {
    return this.context ? this.context.sampleRate : 0;
  }

  /** Analyser on the microphone (null before init). */
  get input(): AnalyserNode | null {
    return this._input;
  }

  /** Analyser on the assistant's audio (null before init). */
  get output(): AnalyserNode | null {
    return this._output;
  }

  /** Request the microphone and set up audio; safe to call twice. */
  init(): Promise<void> {
    if (!this._init) {
      this._init = this._setup().catch((err: unknown) => {
        this._init = null;
        this.close();
        throw err;
      });
    }
    return this._init;
  }

  private async _setup(): Promise<void> {
    const context = new AudioContext({ latencyHint: "interactive" });
    this.context = context;
    if (context.state === "suspended") {
      // Needs a user gesture in most browsers; do not wait for it forever.
      await Promise.race([context.resume(), new Promise((r) => setTimeout(r, 1000))]);
    }
    this._output = context.createAnalyser();
    this._output.fftSize = 1024;
    this._output.connect(context.destination);
    this._scratch = new Float32Array(1024);
    if (this.options.microphone === false) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this page cannot use the microphone (it needs https or localhost)");
    }
    const constraints = this.options.audio ?? {
      channelCount: 1,
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    };
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
    if (this.context !== context) throw new Error("the channel was closed during init");
    const workletUrl = this.options.workletUrl || new URL("./capture-worklet.js", import.meta.url);
    await context.audioWorklet.addModule(workletUrl);
    if (this.context !== context) throw new Error("the channel was closed during init");
    this._source = context.createMediaStreamSource(this.stream);
    this._worklet = new AudioWorkletNode(context, "voicewire-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: WIRE_RATE, frameMs: this.frameMs },
    });
    this._worklet.port.onmessage = (event: MessageEvent<ArrayBuffer>) => this.emit("audio", event.data);
    this._input = context.createAnalyser();
    this._input.fftSize = 1024;
    // The worklet outputs silence; a muted sink keeps it pulled by the graph.
    this._sink = context.createGain();
    this._sink.gain.value = 0;
    this._source.connect(this._input);
    this._source.connect(this._worklet);
    this._worklet.connect(this._sink);
    this._sink.connect(context.destination);
  }

  /** Microphone level (RMS, 0..1). */
  inputLevel(): number {
    return rmsOf(this._input, this._scratch);
  }

  /** Assistant audio level (RMS, 0..1). */
  outputLevel(): number {
    return rmsOf(this._output, this._scratch);
  }

  /** Context time of what reaches the speaker now (accounts for output latency). */
  private _heardTime(): number {
    const ctx = this.context;
    if (!ctx) return 0;
    const stamp = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    const contextTime = stamp?.contextTime ?? 0;
    const performanceTime = stamp?.performanceTime ?? 0;
    if (contextTime > 0 && performanceTime > 0) {
      const t = contextTime + (performance.now() - performanceTime) / 1000;
      return Math.min(t, ctx.currentTime);
    }
    return ctx.currentTime;
  }

  /**
   * Queue 24 kHz mono PCM16 (Uint8Array/ArrayBuffer of little-endian bytes, or base64) of
   * `itemId` for playback, right after what is already queued.
   */
  play(pcm: Uint8Array | ArrayBuffer | string, itemId = ""): void {
    const ctx = this.context;
    if (!ctx || !this._output) return;
    const bytes =
      typeof pcm === "string" ? base64ToBytes(pcm) : pcm instanceof Uint8Array ? pcm : new Uint8Array(pcm);
    const samples = pcm16ToFloat32(bytes);
    if (samples.length === 0) return;
    const buffer = ctx.createBuffer(1, samples.length, WIRE_RATE);
    buffer.copyToChannel(samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this._output);
    const start = Math.max(this._nextTime, ctx.currentTime + PLAYBACK_LEAD_S);
    source.start(start);
    this._nextTime = start + buffer.duration;
    this._sources.add(source);
    source.onended = () => {
      this._sources.delete(source);
      source.disconnect();
      if (this._sources.size === 0) this.emit("idle");
    };
    let item = this._items.get(itemId);
    if (!item) {
      item = { segments: [], frozenMs: null };
      this._items.set(itemId, item);
      this._order.push(itemId);
      while (this._order.length > ITEMS_KEPT) this._items.delete(this._order.shift()!);
    }
    item.segments.push({ start, dur: buffer.duration });
    this._current = itemId;
  }

  /** Base64 alias of `play` (the kernl channel's name). */
  sendAudio(b64: string, itemId = ""): void {
    this.play(b64, itemId);
  }

  /** Whether audio is queued or playing. */
  get playing(): boolean {
    return this._sources.size > 0;
  }

  /** The item being played (or played last). */
  get currentItem(): string | null {
    return this._current;
  }

  /** Milliseconds of `itemId` (default: the current item) heard so far. */
  playedMs(itemId?: string | null): number {
    const item = this._items.get(itemId ?? this._current ?? "");
    if (!item) return 0;
    if (item.frozenMs !== null) return item.frozenMs;
    const now = this._heardTime();
    let seconds = 0;
    for (const { start, dur } of item.segments) seconds += Math.min(Math.max(now - start, 0), dur);
    return Math.floor(seconds * 1000);
  }

  /** Milliseconds of all items heard so far. */
  totalPlayedMs(): number {
    let total = 0;
    for (const id of this._items.keys()) total += this.playedMs(id);
    return total;
  }

  /** Milliseconds of `itemId` (default: the current item) queued (received) so far. */
  queuedMs(itemId?: string | null): number {
    const item = this._items.get(itemId ?? this._current ?? "");
    if (!item) return 0;
    return Math.floor(item.segments.reduce((s, seg) => s + seg.dur, 0) * 1000);
  }

  /**
   * Stop playback now and drop what is queued. Returns `{ itemId, playedMs }` for the item that
   * was playing (what the listener heard of it), or null when nothing was playing.
   */
  interrupt(): Interruption | null {
    const wasPlaying = this._sources.size > 0;
    const itemId = this._current;
    const playedMs = itemId !== null ? this.playedMs(itemId) : 0;
    for (const source of this._sources) {
      source.onended = null;
      try {
        source.stop();
      } catch {
        // never started or already stopped
      }
      source.disconnect();
    }
    this._sources.clear();
    this._nextTime = 0;
    if (itemId !== null) {
      const item = this._items.get(itemId);
      if (item) item.frozenMs = playedMs;
    }
    if (wasPlaying) this.emit("idle");
    return wasPlaying && itemId !== null ? { itemId, playedMs } : null;
  }

  /** Stop the microphone (the channel can be initialized again). */
  close(): void {
    this.interrupt();
    if (this._worklet) {
      this._worklet.port.onmessage = null;
      this._worklet.disconnect();
    }
    if (this._source) this._source.disconnect();
    if (this._sink) this._sink.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    const ctx = this.context;
    this.context = this.stream = null;
    this._source = null;
    this._worklet = null;
    this._sink = null;
    this._input = this._output = null;
    this._items.clear();
    this._order = [];
    this._current = null;
    this._init = null;
    if (ctx && ctx.state !== "closed") ctx.close().catch(() => {});
  }
}
