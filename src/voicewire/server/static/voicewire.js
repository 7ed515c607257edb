// voicewire browser client: an ES module, no build step.
//
//   import { RealtimeClient } from "/static/voicewire.js";
//   const client = new RealtimeClient();                 // same-origin /v1/realtime
//   const { credential } = await (await fetch("/realtime/credential", { method: "POST" })).json();
//   await client.connect(credential);                    // asks for the microphone
//   client.on("transcript", (lines) => render(lines));
//
// `RealtimeClient` speaks the OpenAI Realtime GA wire protocol, so the same client talks to a
// voicewire server or, given an OpenAI ephemeral token and
// `url: "wss://api.openai.com/v1/realtime?model=gpt-realtime"`, straight to OpenAI.
// `BrowserChannel` is the audio side: microphone through an AudioWorklet that resamples from the
// AudioContext's real rate to 24 kHz PCM16, and a playback queue that knows how much of each
// assistant item the listener has actually heard.

export const WIRE_RATE = 24000;

const PLAYBACK_LEAD_S = 0.05; // scheduling lead: absorbs network jitter on the first chunk
const TOKEN_SUBPROTOCOL = "openai-insecure-api-key.";
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000];
// Close codes after which reconnecting would only meet the same end: the server ended the session
// (1000: idle, time limit, done) or refused how it was used (1008 policy; 1002, 1003, 1007, 1009,
// 1010: frames it could not take). Any other close (1001 going away, 1006 dropped, 1011 server
// error, 1012 service restart, 1013 try again later) is reconnected with backoff.
const FINAL_CLOSE_CODES = new Set([1000, 1002, 1003, 1007, 1008, 1009, 1010]);
// A voicewire server sends the session's resume handle as this event when asked with
// ?voicewire_resume=1 (browsers cannot read the upgrade response's header), and resumes the
// session on any instance when reconnected to with ?resume=<handle>.
const RESUME_HANDLE_EVENT = "voicewire.resume_handle";
// Microphone audio captured before the session can take it (while connecting: the server's
// session.created may come seconds after the socket opens; while reconnecting) is kept, up to
// 10 s by default, and sent in order once connected. Past that the oldest goes, counted in
// audioBytesDropped.
const BACKLOG_MS = 10000;

// --- a tiny event emitter -------------------------------------------------------------------------

export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  /** Subscribe to `event`; returns a function that unsubscribes. */
  on(event, listener) {
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off(event, listener) {
    const set = this._listeners.get(event);
    if (set) set.delete(listener);
  }

  emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        // a broken listener must not break the client; surface it asynchronously
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}

// --- PCM16 / base64 ------------------------------------------------------------------------------

export function bytesToBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < view.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, view.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

export function base64ToBytes(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Little-endian PCM16 bytes -> Float32 samples in [-1, 1). */
export function pcm16ToFloat32(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

/** Int16Array (platform order) -> little-endian PCM16 bytes. */
function int16ToBytes(samples) {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i], true);
  return bytes;
}

function rmsOf(analyser, scratch) {
  if (!analyser) return 0;
  analyser.getFloatTimeDomainData(scratch);
  let sum = 0;
  for (let i = 0; i < scratch.length; i++) sum += scratch[i] * scratch[i];
  return Math.sqrt(sum / scratch.length);
}

// --- BrowserChannel ------------------------------------------------------------------------------

/**
 * Microphone capture and speaker playback for one realtime session.
 *
 * Events: `audio` (ArrayBuffer of 24 kHz mono PCM16, one frame), `idle` (playback drained),
 * `error`.
 */
export class BrowserChannel extends Emitter {
  /**
   * @param {object} [options]
   * @param {number} [options.frameMs=20] capture frame length.
   * @param {boolean|MediaTrackConstraints} [options.audio] getUserMedia audio constraints
   *   (default: mono with echo cancellation, noise suppression and auto gain).
   * @param {boolean} [options.microphone=true] capture the microphone (false: playback only).
   * @param {string|URL} [options.workletUrl] where capture-worklet.js is served.
   */
  constructor(options = {}) {
    super();
    this.options = options;
    this.frameMs = options.frameMs || 20;
    this.context = null;
    this.stream = null;
    this._source = null;
    this._worklet = null;
    this._sink = null;
    this._input = null;
    this._output = null;
    this._scratch = null;
    this._sources = new Set();
    this._nextTime = 0;
    this._items = new Map(); // itemId -> { segments: [{start, dur}], frozenMs: number|null }
    this._order = []; // item ids in arrival order (bounded)
    this._current = null; // the item whose audio was scheduled last
    this._init = null;
  }

  get initialized() {
    return this.context !== null;
  }

  /** The AudioContext's real sample rate (never assume 48000). */
  get sampleRate() {
    return this.context ? this.context.sampleRate : 0;
  }

  /** Analyser on the microphone (null before init). */
  get input() {
    return this._input;
  }

  /** Analyser on the assistant's audio (null before init). */
  get output() {
    return this._output;
  }

  /** Request the microphone and set up audio; safe to call twice. */
  init() {
    if (!this._init) {
      this._init = this._setup().catch((err) => {
        this._init = null;
        this.close();
        throw err;
      });
    }
    return this._init;
  }

  async _setup() {
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
    this._worklet.port.onmessage = (event) => this.emit("audio", event.data);
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
  inputLevel() {
    return rmsOf(this._input, this._scratch);
  }

  /** Assistant audio level (RMS, 0..1). */
  outputLevel() {
    return rmsOf(this._output, this._scratch);
  }

  /** Context time of what reaches the speaker now (accounts for output latency). */
  _heardTime() {
    const ctx = this.context;
    if (!ctx) return 0;
    const stamp = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    if (stamp && stamp.contextTime > 0 && stamp.performanceTime > 0) {
      const t = stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
      return Math.min(t, ctx.currentTime);
    }
    return ctx.currentTime;
  }

  /**
   * Queue 24 kHz mono PCM16 (Uint8Array/ArrayBuffer of little-endian bytes, or base64) of
   * `itemId` for playback, right after what is already queued.
   */
  play(pcm, itemId = "") {
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
      while (this._order.length > 64) this._items.delete(this._order.shift());
    }
    item.segments.push({ start, dur: buffer.duration });
    this._current = itemId;
  }

  /** Base64 alias of `play` (the kernl channel's name). */
  sendAudio(b64, itemId = "") {
    this.play(b64, itemId);
  }

  /** Whether audio is queued or playing. */
  get playing() {
    return this._sources.size > 0;
  }

  /** The item being played (or played last). */
  get currentItem() {
    return this._current;
  }

  /** Milliseconds of `itemId` heard so far. */
  playedMs(itemId) {
    const item = this._items.get(itemId ?? this._current);
    if (!item) return 0;
    if (item.frozenMs !== null) return item.frozenMs;
    const now = this._heardTime();
    let seconds = 0;
    for (const { start, dur } of item.segments) seconds += Math.min(Math.max(now - start, 0), dur);
    return Math.floor(seconds * 1000);
  }

  /** Milliseconds of all items heard so far. */
  totalPlayedMs() {
    let total = 0;
    for (const id of this._items.keys()) total += this.playedMs(id);
    return total;
  }

  /** Milliseconds of `itemId` queued (received) so far. */
  queuedMs(itemId) {
    const item = this._items.get(itemId ?? this._current);
    if (!item) return 0;
    return Math.floor(item.segments.reduce((s, seg) => s + seg.dur, 0) * 1000);
  }

  /**
   * Stop playback now and drop what is queued. Returns `{ itemId, playedMs }` for the item that
   * was playing (what the listener heard of it), or null when nothing was playing.
   */
  interrupt() {
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
  close() {
    this.interrupt();
    if (this._worklet) {
      this._worklet.port.onmessage = null;
      this._worklet.disconnect();
    }
    if (this._source) this._source.disconnect();
    if (this._sink) this._sink.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    const ctx = this.context;
    this.context = this.stream = this._source = this._worklet = this._sink = null;
    this._input = this._output = null;
    this._items.clear();
    this._order = [];
    this._current = null;
    this._init = null;
    if (ctx && ctx.state !== "closed") ctx.close().catch(() => {});
  }
}

// --- RealtimeClient ------------------------------------------------------------------------------

function parseExpiry(value) {
  if (value === undefined || value === null) return null;
  // numbers: epoch seconds (OpenAI's `expires_at`) or milliseconds
  const date =
    value instanceof Date
      ? value
      : new Date(typeof value === "number" && value < 1e12 ? value * 1000 : value);
  if (Number.isNaN(date.getTime())) throw new Error(`credential expiresAt is not a date: ${value}`);
  return date;
}

/**
 * Normalize a credential: `{kind: "token", token, expiresAt}` or `{kind: "url", url, expiresAt}`
 * (expiresAt a Date or an ISO string), the credential endpoint's whole answer
 * (`{credential: {...}}`), or an OpenAI client secret (`{value, expires_at}`).
 */
export function parseCredential(input) {
  if (!input || typeof input !== "object") throw new Error("connect() needs a credential object");
  let raw = input;
  for (const key of ["credential", "client_secret"]) {
    if (raw[key] && typeof raw[key] === "object") raw = raw[key];
  }
  const kind = raw.kind || (raw.url ? "url" : "token");
  const expiresAt = parseExpiry(raw.expiresAt ?? raw.expires_at);
  if (kind === "token") {
    const token = raw.token ?? raw.value;
    if (typeof token !== "string" || !token) throw new Error("the credential has no token");
    return { kind, token, expiresAt };
  }
  if (kind === "url") {
    if (typeof raw.url !== "string" || !raw.url) throw new Error("the credential has no url");
    return { kind, url: raw.url, expiresAt };
  }
  throw new Error(`unknown credential kind ${JSON.stringify(kind)}`);
}

function clientError(message, code) {
  const err = new Error(message);
  err.code = code;
  return err;
}

function checkCredential(credential) {
  if (credential.expiresAt && credential.expiresAt.getTime() <= Date.now()) {
    throw clientError("the credential has expired; fetch a new one", "credential_expired");
  }
  return credential;
}

function defaultUrl() {
  const url = new URL("/v1/realtime", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function deepMerge(base, extra) {
  const out = { ...base };
  for (const [key, value] of Object.entries(extra || {})) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key], value) : value;
  }
  return out;
}

/**
 * A realtime voice session from the browser (the seed's UseRealtimeReturn, plus agent state and
 * the transcript).
 *
 * Events: `status` (status), `state` (agentState), `transcript` (array of {role, text, itemId}),
 * `muted` (bool), `error` (Error with `.code`), `event` (every server event, raw).
 *
 * Microphone audio captured while `connecting` or `reconnecting` is kept (up to `backlogMs`) and
 * sent in order once connected, so the first words are not lost; `audioBytesSent` counts the PCM16
 * bytes sent, `audioBytesDropped` the oldest kept bytes dropped past that bound.
 */
export class RealtimeClient extends Emitter {
  /**
   * @param {object} [options]
   * @param {string} [options.url] WebSocket URL (default: this origin's /v1/realtime; for OpenAI
   *   `wss://api.openai.com/v1/realtime?model=gpt-realtime`).
   * @param {BrowserChannel|null} [options.channel] audio channel (default: a new BrowserChannel;
   *   null: text only).
   * @param {object} [options.agent] `{instructions, voice}` sent in session.update (on a voicewire
   *   server the server's agent applies when omitted).
   * @param {object} [options.session] extra GA session fields, deep-merged into session.update
   *   (e.g. `{audio: {input: {transcription: {model: "gpt-4o-mini-transcribe"}}}}` for OpenAI).
   * @param {() => Promise<object>} [options.getCredential] fetches a fresh credential; given it,
   *   a dropped connection is retried with backoff (status 'reconnecting'), each attempt with a
   *   credential of its own (a single-use token is spent by the connection it opened). A
   *   voicewire server resumes the session from its resume handle (the conversation comes back
   *   from the server, on whichever instance answers); elsewhere, or when the server no longer
   *   has it, the conversation so far is replayed as text items. Either way what the user said
   *   meanwhile is sent once back. A close that says the session is over (1000: ended by the
   *   server, idle or time limit; 1008: policy) is not retried: status 'disconnected' and an
   *   'error' with code `session_ended` or `policy_violation`.
   * @param {boolean} [options.resume] ask the server for a resume handle
   *   (`?voicewire_resume=1`; only a voicewire server knows it) and reconnect with it (default:
   *   true with the default `url`, false with a `url` of your own).
   * @param {object} [options.channelOptions] options of the default BrowserChannel.
   * @param {number} [options.backlogMs=10000] how much microphone audio is kept while connecting
   *   or reconnecting (the oldest is dropped past it).
   */
  constructor(options = {}) {
    super();
    this.options = options;
    this.channel =
      options.channel === undefined ? new BrowserChannel(options.channelOptions) : options.channel;
    this.status = "disconnected";
    this.agentState = "listening";
    this.muted = false;
    this.transcript = [];
    this.sessionId = null;
    this.audioBytesSent = 0;
    this.audioBytesDropped = 0;
    this._ws = null;
    this._unsubscribe = [];
    this._activeResponse = null;
    this._pendingResponse = false;
    this._interrupted = new Set();
    this._receivedMs = new Map();
    this._entries = new Map(); // itemId -> transcript entry
    this._responseDone = true;
    this._backlog = [];
    this._backlogBytes = 0;
    this._backlogLimit = Math.round(((options.backlogMs ?? BACKLOG_MS) / 1000) * WIRE_RATE) * 2;
    this._replayEchoes = 0;
    this._lastReconnectError = null;
    /** The resume handle of the session (voicewire servers; null until one was sent). */
    this.resumeHandle = null;
  }

  // -- status ------------------------------------------------------------------------------------

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.emit("status", status);
  }

  _setState(state) {
    if (this.agentState === state) return;
    this.agentState = state;
    this.emit("state", state);
  }

  /** Emit `err` as an 'error' event (once) and return it. */
  _report(err) {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!error.code) error.code = "client_error";
    if (!error.reported) {
      error.reported = true;
      this.emit("error", error);
    }
    return error;
  }

  // -- connect / disconnect -------------------------------------------------------------------------

  /**
   * Open the session with `credential` ({kind: "token", token, expiresAt: Date|string}, or the
   * credential endpoint's whole answer). Resolves once the server has sent session.created.
   */
  async connect(input) {
    if (this.status === "closed") throw new Error("this client is closed; create a new one");
    if (this.status !== "disconnected") throw new Error(`cannot connect while ${this.status}`);
    let credential;
    try {
      credential = checkCredential(parseCredential(input));
    } catch (err) {
      throw this._report(err);
    }
    this._setStatus("connecting");
    try {
      if (this.channel) {
        await this.channel.init();
        this._unsubscribe.push(
          this.channel.on("audio", (frame) => this._sendAudio(frame)),
          this.channel.on("idle", () => this._onPlaybackIdle()),
        );
      }
      if (this.status !== "connecting") throw clientError("disconnected while connecting", "aborted");
      await this._open(credential);
      this._sendBacklog(); // what was said while connecting, before any newer frame
    } catch (err) {
      if (this.status === "connecting") {
        this._teardown();
        this._setStatus("disconnected");
      }
      throw this._report(err);
    }
  }

  /** Whether to ask the server for a resume handle (see options.resume). */
  get _wantsHandle() {
    return this.options.resume ?? !this.options.url;
  }

  /** The WebSocket URL: asking for the resume handle, resuming with `resumeHandle` if given. */
  _url(credential, resumeHandle) {
    if (credential.kind === "url") return credential.url;
    const url = new URL(this.options.url || defaultUrl(), location.href);
    if (this._wantsHandle) url.searchParams.set("voicewire_resume", "1");
    if (resumeHandle) url.searchParams.set("resume", resumeHandle);
    return url.toString();
  }

  /**
   * Open the WebSocket; resolves on session.created (status 'connected'). With `resumeHandle`
   * the server resumes that session.
   */
  _open(credential, resumeHandle = null) {
    const url = this._url(credential, resumeHandle);
    const protocols =
      credential.kind === "token" ? ["realtime", TOKEN_SUBPROTOCOL + credential.token] : ["realtime"];
    return new Promise((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(url, protocols);
      this._ws = ws;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        if (this._ws === ws) this._ws = null;
        if (ws.readyState <= WebSocket.OPEN) ws.close();
        reject(err);
      };
      ws.onopen = () => {
        this._send({ type: "session.update", session: this._sessionUpdate() });
      };
      ws.onmessage = (message) => {
        if (this._ws !== ws) return;
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          this._report(clientError("the server sent a frame that is not JSON", "invalid_frame"));
          return;
        }
        if (!settled && event.type === "error") {
          const e = event.error || {};
          fail(clientError(e.message || "the server refused the session", e.code || "server_error"));
          return;
        }
        if (!settled && event.type === "session.created") {
          settled = true;
          this.sessionId = (event.session && event.session.id) || null;
          this._setStatus("connected");
          this._setState("listening");
          resolve();
        }
        if (event.type === RESUME_HANDLE_EVENT && typeof event.handle === "string") {
          this.resumeHandle = event.handle; // the newest: reconnect with it
        }
        this._onEvent(event);
      };
      ws.onerror = () => {
        // Browsers hide the reason (a 401 on the handshake, say); onclose follows.
      };
      ws.onclose = (close) => {
        const why = `code ${close.code}${close.reason ? `: ${close.reason}` : ""}`;
        if (!settled) {
          fail(
            clientError(
              `the realtime connection was refused or closed (${why}); ` +
                "the credential may be invalid or expired",
              "connection_refused",
            ),
          );
          return;
        }
        if (this._ws !== ws) return; // closed on purpose
        this._ws = null;
        this._lost(why, close.code);
      };
    });
  }

  /**
   * The connection closed under us (`code`: its close code): reconnect when it makes sense and
   * we can (options.getCredential), resuming with the handle if we have one, else disconnect.
   */
  async _lost(why, code) {
    if (this.channel) this.channel.interrupt();
    this._activeResponse = null;
    this._pendingResponse = false;
    this._responseDone = true;
    this._lastReconnectError = null;
    if (FINAL_CLOSE_CODES.has(code)) {
      const errorCode =
        code === 1000 ? "session_ended" : code === 1008 ? "policy_violation" : "protocol_error";
      this._report(clientError(`the server ended the session (${why})`, errorCode));
      this._teardown();
      this._setStatus("disconnected");
      return;
    }
    const getCredential = this.options.getCredential;
    if (getCredential && this.status === "connected") {
      this._setStatus("reconnecting");
      this._setState("listening");
      for (const [attempt, delay] of RECONNECT_DELAYS_MS.entries()) {
        await new Promise((r) => setTimeout(r, delay));
        if (this.status !== "reconnecting") return; // disconnect() meanwhile
        // A browser cannot tell a refused resume (the conversation expired) from a server that
        // is not back yet: the last attempt starts a new session and replays instead.
        const last = attempt === RECONNECT_DELAYS_MS.length - 1;
        const handle = last ? null : this.resumeHandle;
        try {
          await this._open(checkCredential(parseCredential(await getCredential())), handle);
          if (handle) this._resumed();
          else this._replay();
          return;
        } catch (err) {
          if (this.status !== "reconnecting") return;
          this._lastReconnectError = err;
        }
      }
    }
    if (this.status === "connected" || this.status === "reconnecting") {
      const retry = this._lastReconnectError;
      const detail = retry ? `; reconnecting failed: ${retry.message}` : "";
      this._report(clientError(`the connection was lost (${why})${detail}`, "connection_lost"));
      this._teardown();
      this._setStatus("disconnected");
    }
  }

  /**
   * After a resumed reconnect: the server has the conversation and tells each item again under
   * the id it had (already in the transcript: not added twice); send what was said meanwhile.
   */
  _resumed() {
    this._interrupted.clear();
    this._receivedMs.clear();
    this._replayEchoes = 0;
    this._sendBacklog();
  }

  /** After a reconnect: give the new session the conversation so far, then what was said. */
  _replay() {
    // The new session has new item ids: old entries stay in the transcript, but no longer map
    // to server items (an id the new session reuses gets a fresh entry; see _entry).
    this._entries.clear();
    this._interrupted.clear();
    this._receivedMs.clear();
    this._replayEchoes = 0;
    for (const entry of this.transcript) {
      if (!entry.text) continue;
      const type = entry.role === "assistant" ? "output_text" : "input_text";
      this._send({
        type: "conversation.item.create",
        item: { type: "message", role: entry.role, content: [{ type, text: entry.text }] },
      });
      this._replayEchoes += 1; // the server echoes it as conversation.item.added: not new
    }
    this._sendBacklog();
  }

  /** Send the audio kept while not connected, oldest first. */
  _sendBacklog() {
    const backlog = this._backlog;
    this._backlog = [];
    this._backlogBytes = 0;
    for (const frame of backlog) this._sendAudio(frame);
  }

  /** Keep a frame for later (bounded: the oldest frames go first, counted as dropped). */
  _keep(frame) {
    this._backlog.push(frame);
    this._backlogBytes += frame.byteLength;
    while (this._backlogBytes > this._backlogLimit) {
      const oldest = this._backlog.shift();
      this._backlogBytes -= oldest.byteLength;
      this.audioBytesDropped += oldest.byteLength;
    }
  }

  _sessionUpdate() {
    const format = { type: "audio/pcm", rate: WIRE_RATE };
    let session = { type: "realtime", audio: { input: { format }, output: { format } } };
    const agent = this.options.agent;
    if (agent && typeof agent === "object") {
      if (agent.instructions) session.instructions = agent.instructions;
      const voice =
        typeof agent.voice === "string"
          ? agent.voice
          : agent.voice && (agent.voice.voiceId || agent.voice.voice_id);
      if (voice) session.audio.output.voice = voice;
    }
    if (this.options.session) session = deepMerge(session, this.options.session);
    return session;
  }

  /** Close the session and stop the microphone; status becomes 'disconnected'. */
  disconnect() {
    const ws = this._ws;
    this._ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "client disconnected");
    this._teardown();
    if (this.status !== "closed") this._setStatus("disconnected");
  }

  /** Disconnect for good: status becomes 'closed' and the client cannot connect again. */
  close() {
    this.disconnect();
    this._setStatus("closed");
  }

  _teardown() {
    for (const unsubscribe of this._unsubscribe) unsubscribe();
    this._unsubscribe = [];
    if (this.channel) this.channel.close();
    this._activeResponse = null;
    this._pendingResponse = false;
    this._responseDone = true;
    this._backlog = [];
    this._backlogBytes = 0;
    this._replayEchoes = 0;
    this._interrupted.clear();
    this._receivedMs.clear();
    this.resumeHandle = null; // a new connect() starts a new session
    this._setState("listening");
  }

  // -- input ---------------------------------------------------------------------------------------

  /** Stop sending microphone audio (nothing leaves the page while muted). */
  mute() {
    if (this.muted) return;
    this.muted = true;
    this.emit("muted", true);
  }

  unmute() {
    if (!this.muted) return;
    this.muted = false;
    this.emit("muted", false);
  }

  _sendAudio(frame) {
    if (this.muted) return;
    if (this.status === "connecting" || this.status === "reconnecting") {
      this._keep(frame); // what the user says meanwhile is sent once the session is up
      return;
    }
    if (this.status !== "connected") return;
    const bytes = int16ToBytes(new Int16Array(frame));
    if (this._send({ type: "input_audio_buffer.append", audio: bytesToBase64(bytes) })) {
      this.audioBytesSent += bytes.length;
    }
  }

  /** Send a user text message and ask for a reply (interrupting the current one). */
  sendMessage(text) {
    if (this.status !== "connected") throw new Error(`cannot send a message while ${this.status}`);
    const message = String(text);
    if (!message.trim()) return;
    this._bargeIn();
    this._send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: message }] },
    });
    if (this._activeResponse) {
      // One response at a time: cancel, and ask again once response.done arrives.
      this._send({ type: "response.cancel" });
      this._pendingResponse = true;
    } else {
      this._send({ type: "response.create" });
    }
    this._setState("thinking");
  }

  _send(event) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(event));
    return true;
  }

  // -- playback ------------------------------------------------------------------------------------

  /** Stop playback and tell the server how much of the item the user heard. */
  _bargeIn() {
    if (!this.channel) return;
    const stopped = this.channel.interrupt();
    if (!stopped || !stopped.itemId) return;
    this._interrupted.add(stopped.itemId);
    const received = this._receivedMs.get(stopped.itemId) || 0;
    const audioEndMs = Math.max(0, Math.min(stopped.playedMs, Math.floor(received)));
    this._send({
      type: "conversation.item.truncate",
      item_id: stopped.itemId,
      content_index: 0,
      audio_end_ms: audioEndMs,
    });
  }

  _onPlaybackIdle() {
    if (this._responseDone && this.agentState === "speaking") this._setState("listening");
  }

  // -- server events -------------------------------------------------------------------------------

  _entry(itemId, role) {
    let entry = this._entries.get(itemId);
    if (!entry) {
      // An entry of an earlier session (before a reconnect) may carry the same id: rename it,
      // so that item ids stay unique in the transcript.
      let n = 1;
      const taken = (id) => this.transcript.some((e) => e.itemId === id);
      while (taken(`${itemId}~${n}`)) n += 1;
      const transcript = this.transcript.map((e) =>
        e.itemId === itemId ? { ...e, itemId: `${itemId}~${n}` } : e,
      );
      entry = { role, text: "", itemId };
      this._entries.set(itemId, entry);
      this.transcript = [...transcript, entry];
    }
    return entry;
  }

  _setText(itemId, role, text, append) {
    const entry = this._entry(itemId, role);
    const next = { ...entry, text: append ? entry.text + text : text };
    this._entries.set(itemId, next);
    this.transcript = this.transcript.map((e) => (e.itemId === itemId ? next : e));
    this.emit("transcript", this.transcript);
  }

  _onEvent(event) {
    this.emit("event", event);
    switch (event.type) {
      case "conversation.item.added":
      case "conversation.item.created": {
        const item = event.item || {};
        if (item.type !== "message" || !item.id || this._entries.has(item.id)) break;
        if (item.role !== "user" && item.role !== "assistant") break;
        if (this._replayEchoes > 0) {
          this._replayEchoes -= 1;
          break;
        }
        const text = (item.content || [])
          .map((part) => part.text || part.transcript || "")
          .join("");
        this._setText(item.id, item.role, text, false);
        break;
      }
      case "input_audio_buffer.speech_started":
        this._bargeIn();
        this._setState("listening");
        break;
      case "input_audio_buffer.speech_stopped":
      case "input_audio_buffer.committed":
        this._setState("thinking");
        break;
      case "conversation.item.input_audio_transcription.delta":
        this._setText(event.item_id, "user", event.delta || "", true);
        break;
      case "conversation.item.input_audio_transcription.completed":
        this._setText(event.item_id, "user", event.transcript || "", false);
        break;
      case "response.created":
        this._activeResponse = (event.response && event.response.id) || "response";
        this._responseDone = false;
        break;
      case "response.output_audio.delta":
      case "response.audio.delta": {
        if (this._interrupted.has(event.item_id)) break;
        const bytes = base64ToBytes(event.delta || "");
        const ms = (this._receivedMs.get(event.item_id) || 0) + (bytes.length / 2 / WIRE_RATE) * 1000;
        this._receivedMs.set(event.item_id, ms);
        if (this.channel) this.channel.play(bytes, event.item_id);
        this._setState("speaking");
        break;
      }
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
      case "response.audio_transcript.delta":
      case "response.text.delta":
        this._setText(event.item_id, "assistant", event.delta || "", true);
        if (this.agentState === "thinking" && !(this.channel && this.channel.playing)) {
          this._setState("speaking");
        }
        break;
      case "response.output_audio_transcript.done":
      case "response.audio_transcript.done":
        if (!this._interrupted.has(event.item_id)) {
          this._setText(event.item_id, "assistant", event.transcript || "", false);
        }
        break;
      case "response.output_text.done":
      case "response.text.done":
        this._setText(event.item_id, "assistant", event.text || "", false);
        break;
      case "response.done": {
        this._activeResponse = null;
        this._responseDone = true;
        if (this._pendingResponse) {
          this._pendingResponse = false;
          this._send({ type: "response.create" });
          this._setState("thinking");
        } else if (!(this.channel && this.channel.playing)) {
          this._setState("listening");
        }
        const failed = event.response && event.response.status === "failed";
        if (failed) {
          const details = event.response.status_details || {};
          const e = details.error || {};
          this._report(clientError(e.message || "the response failed", e.code || "response_failed"));
        }
        break;
      }
      case "error": {
        const e = event.error || {};
        // a cancel racing the response's own end (see sendMessage) is harmless
        if (e.code === "response_cancel_not_active") break;
        this._report(clientError(e.message || "the server reported an error", e.code || "server_error"));
        break;
      }
      default:
        break;
    }
  }
}
