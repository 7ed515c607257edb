// Built from js/packages/client/src/index.ts by `make js` (js/scripts/build-static.mjs): edit the TypeScript, not this file.
// import { RealtimeClient } from "/static/voicewire.js"; the API: js/packages/client/README.md

// packages/client/src/emitter.ts
var Emitter = class {
  // listeners of every event, stored untyped: `on` and `emit` keep each event's own types
  _listeners = /* @__PURE__ */ new Map();
  /** Subscribe to `event`; returns a function that unsubscribes. */
  on(event, listener) {
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, set = /* @__PURE__ */ new Set());
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
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
};

// packages/client/src/pcm.ts
var WIRE_RATE = 24e3;
function bytesToBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  const CHUNK = 32768;
  for (let i = 0; i < view.length; i += CHUNK) {
    binary += String.fromCharCode(...view.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}
function base64ToBytes(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
function pcm16ToFloat32(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}
function int16ToBytes(samples) {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i], true);
  return bytes;
}

// packages/client/src/channel.ts
var PLAYBACK_LEAD_S = 0.05;
var ITEMS_KEPT = 64;
function rmsOf(analyser, scratch) {
  if (!analyser || !scratch) return 0;
  analyser.getFloatTimeDomainData(scratch);
  let sum = 0;
  for (let i = 0; i < scratch.length; i++) sum += scratch[i] * scratch[i];
  return Math.sqrt(sum / scratch.length);
}
var BrowserChannel = class extends Emitter {
  options;
  frameMs;
  context = null;
  stream = null;
  _source = null;
  _worklet = null;
  _sink = null;
  _input = null;
  _output = null;
  _scratch = null;
  _sources = /* @__PURE__ */ new Set();
  _nextTime = 0;
  _items = /* @__PURE__ */ new Map();
  _order = [];
  // item ids in arrival order (bounded)
  _current = null;
  // the item whose audio was scheduled last
  _init = null;
  constructor(options = {}) {
    super();
    this.options = options;
    this.frameMs = options.frameMs || 20;
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
      await Promise.race([context.resume(), new Promise((r) => setTimeout(r, 1e3))]);
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
      autoGainControl: true
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
      processorOptions: { targetRate: WIRE_RATE, frameMs: this.frameMs }
    });
    this._worklet.port.onmessage = (event) => this.emit("audio", event.data);
    this._input = context.createAnalyser();
    this._input.fftSize = 1024;
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
    const contextTime = stamp?.contextTime ?? 0;
    const performanceTime = stamp?.performanceTime ?? 0;
    if (contextTime > 0 && performanceTime > 0) {
      const t = contextTime + (performance.now() - performanceTime) / 1e3;
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
    const bytes = typeof pcm === "string" ? base64ToBytes(pcm) : pcm instanceof Uint8Array ? pcm : new Uint8Array(pcm);
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
      while (this._order.length > ITEMS_KEPT) this._items.delete(this._order.shift());
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
  /** Milliseconds of `itemId` (default: the current item) heard so far. */
  playedMs(itemId) {
    const item = this._items.get(itemId ?? this._current ?? "");
    if (!item) return 0;
    if (item.frozenMs !== null) return item.frozenMs;
    const now = this._heardTime();
    let seconds = 0;
    for (const { start, dur } of item.segments) seconds += Math.min(Math.max(now - start, 0), dur);
    return Math.floor(seconds * 1e3);
  }
  /** Milliseconds of all items heard so far. */
  totalPlayedMs() {
    let total = 0;
    for (const id of this._items.keys()) total += this.playedMs(id);
    return total;
  }
  /** Milliseconds of `itemId` (default: the current item) queued (received) so far. */
  queuedMs(itemId) {
    const item = this._items.get(itemId ?? this._current ?? "");
    if (!item) return 0;
    return Math.floor(item.segments.reduce((s, seg) => s + seg.dur, 0) * 1e3);
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
    this.context = this.stream = null;
    this._source = null;
    this._worklet = null;
    this._sink = null;
    this._input = this._output = null;
    this._items.clear();
    this._order = [];
    this._current = null;
    this._init = null;
    if (ctx && ctx.state !== "closed") ctx.close().catch(() => {
    });
  }
};

// packages/client/src/credential.ts
var RealtimeError = class extends Error {
  code;
  constructor(message, code) {
    super(message);
    this.name = "RealtimeError";
    this.code = code;
  }
};
function parseExpiry(value) {
  if (value === void 0 || value === null) return null;
  const date = value instanceof Date ? value : new Date(typeof value === "number" && value < 1e12 ? value * 1e3 : value);
  if (Number.isNaN(date.getTime())) throw new Error(`credential expiresAt is not a date: ${String(value)}`);
  return date;
}
function isObject(value) {
  return value !== null && typeof value === "object";
}
function parseCredential(input) {
  const given = input;
  if (!isObject(given)) throw new Error("connect() needs a credential object");
  let raw = given;
  for (const key of ["credential", "client_secret"]) {
    const inner = raw[key];
    if (isObject(inner)) raw = inner;
  }
  const kind = raw["kind"] || (raw["url"] ? "url" : "token");
  const expiresAt = parseExpiry(raw["expiresAt"] ?? raw["expires_at"]);
  if (kind === "token") {
    const token = raw["token"] ?? raw["value"];
    if (typeof token !== "string" || !token) throw new Error("the credential has no token");
    return { kind, token, expiresAt };
  }
  if (kind === "url") {
    const url = raw["url"];
    if (typeof url !== "string" || !url) throw new Error("the credential has no url");
    return { kind, url, expiresAt };
  }
  throw new Error(`unknown credential kind ${JSON.stringify(kind)}`);
}
function hasExpired(credential) {
  return credential.expiresAt !== null && credential.expiresAt.getTime() <= Date.now();
}
function checkCredential(credential) {
  if (hasExpired(credential)) {
    throw new RealtimeError("the credential has expired; fetch a new one", "credential_expired");
  }
  return credential;
}
async function fetchCredential(options = {}) {
  const doFetch = options.fetch ?? globalThis.fetch;
  const response = await doFetch(options.url ?? "/realtime/credential", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...options.headers },
    body: JSON.stringify(options.body ?? {})
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
  }
  if (!response.ok) {
    const error = isObject(answer) && isObject(answer["error"]) ? answer["error"] : {};
    const message = typeof error["message"] === "string" ? error["message"] : response.statusText;
    const code = typeof error["code"] === "string" ? error["code"] : `http_${response.status}`;
    throw new RealtimeError(`could not get a credential (${response.status}): ${message}`, code);
  }
  if (!isObject(answer)) throw new RealtimeError("the credential endpoint did not answer JSON", "invalid_credential");
  return parseCredential(answer);
}

// packages/client/src/client.ts
var TOKEN_SUBPROTOCOL = "openai-insecure-api-key.";
var RECONNECT_DELAYS_MS = [250, 500, 1e3, 2e3, 4e3];
var FINAL_CLOSE_CODES = /* @__PURE__ */ new Set([1e3, 1002, 1003, 1007, 1008, 1009, 1010]);
var REFUSED_CREDENTIAL_CLOSE_CODES = /* @__PURE__ */ new Set([1008, 4401, 4403]);
var REFUSED_CREDENTIAL_CODES = /* @__PURE__ */ new Set([
  "missing_credential",
  "invalid_token",
  "malformed_token",
  "invalid_token_signature",
  "unknown_token_key",
  "token_expired",
  "token_not_yet_valid",
  "wrong_token_audience",
  "token_replayed",
  "invalid_api_key",
  "invalid_client_secret",
  "unauthorized",
  "forbidden"
]);
var FRESH_CREDENTIAL_NEEDED = "a fresh credential is needed: connect() again with one, or pass getCredential to RealtimeClient to have each reconnect fetch its own";
var RESUME_HANDLE_EVENT = "voicewire.resume_handle";
var BACKLOG_MS = 1e4;
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
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? deepMerge(current, value) : value;
  }
  return out;
}
function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
var RealtimeClient = class extends Emitter {
  options;
  channel;
  status = "disconnected";
  agentState = "listening";
  muted = false;
  transcript = [];
  sessionId = null;
  audioBytesSent = 0;
  audioBytesDropped = 0;
  /** The resume handle of the session (voicewire servers; null until one was sent). */
  resumeHandle = null;
  /** @internal the live socket (tests close it to simulate a network drop) */
  _ws = null;
  _unsubscribe = [];
  _activeResponse = null;
  _pendingResponse = false;
  _interrupted = /* @__PURE__ */ new Set();
  _receivedMs = /* @__PURE__ */ new Map();
  _entries = /* @__PURE__ */ new Map();
  // itemId -> transcript entry
  _responseDone = true;
  _backlog = [];
  _backlogBytes = 0;
  _backlogLimit;
  _outbox = [];
  // messages typed while connecting or reconnecting
  _replayEchoes = 0;
  _lastReconnectError = null;
  _credential = null;
  // the one connect() got: reconnects reuse it
  _reported = /* @__PURE__ */ new WeakSet();
  constructor(options = {}) {
    super();
    this.options = options;
    this.channel = options.channel === void 0 ? new BrowserChannel(options.channelOptions) : options.channel;
    this._backlogLimit = Math.round((options.backlogMs ?? BACKLOG_MS) / 1e3 * WIRE_RATE) * 2;
  }
  // -- status ------------------------------------------------------------------------------------
  /** The status now (it may have changed across an await). */
  _now() {
    return this.status;
  }
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
    if (!this._reported.has(error)) {
      this._reported.add(error);
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
      const channel = this.channel;
      if (channel) {
        await channel.init();
        this._unsubscribe.push(
          channel.on("audio", (frame) => this._sendAudio(frame)),
          channel.on("idle", () => this._onPlaybackIdle())
        );
      }
      if (this._now() !== "connecting") throw new RealtimeError("disconnected while connecting", "aborted");
      await this._open(credential);
      this._credential = credential;
      this._sendBacklog();
      this._sendOutbox();
    } catch (err) {
      if (this._now() === "connecting") {
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
    const url = new URL(this.options.url || defaultUrl(), globalThis.location?.href);
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
    const protocols = credential.kind === "token" ? ["realtime", TOKEN_SUBPROTOCOL + credential.token] : ["realtime"];
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
          event = JSON.parse(String(message.data));
        } catch {
          this._report(new RealtimeError("the server sent a frame that is not JSON", "invalid_frame"));
          return;
        }
        if (!settled && event.type === "error") {
          const e = event.error || {};
          fail(new RealtimeError(e.message || "the server refused the session", e.code || "server_error"));
          return;
        }
        if (!settled && event.type === "session.created") {
          settled = true;
          this.sessionId = event.session?.id || null;
          this._setStatus("connected");
          this._setState("listening");
          resolve();
        }
        const raw = event;
        if (raw.type === RESUME_HANDLE_EVENT && typeof raw.handle === "string") {
          this.resumeHandle = raw.handle;
        }
        this._onEvent(event);
      };
      ws.onerror = () => {
      };
      ws.onclose = (close) => {
        const why = `code ${close.code}${close.reason ? `: ${close.reason}` : ""}`;
        if (!settled) {
          const error = new RealtimeError(
            `the realtime connection was refused or closed (${why}); the credential may be invalid or expired`,
            "connection_refused"
          );
          error.closeCode = close.code;
          fail(error);
          return;
        }
        if (this._ws !== ws) return;
        this._ws = null;
        void this._lost(why, close.code);
      };
    });
  }
  /**
   * The connection closed under us (`code`: its close code): reconnect when it makes sense, with
   * a credential from options.getCredential or else the one we connected with (while it has not
   * expired and the server takes it), resuming with the handle if we have one, else disconnect.
   */
  async _lost(why, code) {
    if (this.channel) this.channel.interrupt();
    this._activeResponse = null;
    this._pendingResponse = false;
    this._responseDone = true;
    this._lastReconnectError = null;
    if (FINAL_CLOSE_CODES.has(code)) {
      const errorCode = code === 1e3 ? "session_ended" : code === 1008 ? "policy_violation" : "protocol_error";
      this._report(new RealtimeError(`the server ended the session (${why})`, errorCode));
      this._teardown();
      this._setStatus("disconnected");
      return;
    }
    const getCredential = this.options.getCredential;
    const reused = this._credential;
    let end = null;
    if (this.status === "connected" && getCredential) {
      end = await this._reconnect(async () => checkCredential(parseCredential(await getCredential())), null);
      if (end === null) return;
    } else if (this.status === "connected" && reused) {
      const next = async () => checkCredential(reused);
      end = hasExpired(reused) ? this._expired(why) : await this._reconnect(next, why);
      if (end === null) return;
    }
    const status = this._now();
    if (status === "connected" || status === "reconnecting") {
      const retry = this._lastReconnectError;
      let detail = retry ? `; reconnecting failed: ${retry.message}` : "";
      if (retry && !getCredential) detail += `; if the server no longer takes the credential, ${FRESH_CREDENTIAL_NEEDED}`;
      this._report(end || new RealtimeError(`the connection was lost (${why})${detail}`, "connection_lost"));
      this._teardown();
      this._setStatus("disconnected");
    }
  }
  /**
   * Reconnect with backoff (status 'reconnecting'), each attempt with a credential from `next`,
   * resuming with the handle if we have one. Resolves null once connected (or when disconnect()
   * stopped it), false when the attempts ran out, or, when reusing a credential (`why`: how the
   * connection was lost), the error that says the server will not take it again.
   */
  async _reconnect(next, why) {
    this._setStatus("reconnecting");
    this._setState("listening");
    for (const [attempt, wait] of RECONNECT_DELAYS_MS.entries()) {
      await delay(wait);
      if (this._now() !== "reconnecting") return null;
      const last = attempt === RECONNECT_DELAYS_MS.length - 1;
      const handle = last ? null : this.resumeHandle;
      try {
        await this._open(await next(), handle);
        if (handle) this._resumed();
        else this._replay();
        return null;
      } catch (err) {
        if (this._now() !== "reconnecting") return null;
        const error = err instanceof Error ? err : new Error(String(err));
        this._lastReconnectError = error;
        const refused = why === null ? null : this._refusal(error, why);
        if (refused) return refused;
      }
    }
    return false;
  }
  /** The connection was lost (`why`) and the credential we connected with has expired. */
  _expired(why) {
    return new RealtimeError(
      `the connection was lost (${why}) and the credential it was opened with has expired; ${FRESH_CREDENTIAL_NEEDED}`,
      "credential_expired"
    );
  }
  /**
   * Why reconnecting with the credential we connected with is pointless, given how an attempt
   * with it failed (`error`), or null when another attempt may succeed.
   */
  _refusal(error, why) {
    if (error.code === "credential_expired") return this._expired(why);
    const closed = error.closeCode !== void 0 && REFUSED_CREDENTIAL_CLOSE_CODES.has(error.closeCode);
    if (closed || error.code !== void 0 && REFUSED_CREDENTIAL_CODES.has(error.code)) {
      return new RealtimeError(
        `the connection was lost (${why}) and the server refused the credential it was opened with (${error.message}); ${FRESH_CREDENTIAL_NEEDED}`,
        "credential_refused"
      );
    }
    return null;
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
    this._sendOutbox();
  }
  /** After a reconnect: give the new session the conversation so far, then what was said. */
  _replay() {
    this._entries.clear();
    this._interrupted.clear();
    this._receivedMs.clear();
    this._replayEchoes = 0;
    for (const entry of this.transcript) {
      if (!entry.text) continue;
      const item = entry.role === "assistant" ? { type: "message", role: "assistant", content: [{ type: "output_text", text: entry.text }] } : { type: "message", role: "user", content: [{ type: "input_text", text: entry.text }] };
      this._send({ type: "conversation.item.create", item });
      this._replayEchoes += 1;
    }
    this._sendBacklog();
    this._sendOutbox();
  }
  /** Send the audio kept while not connected, oldest first. */
  _sendBacklog() {
    const backlog = this._backlog;
    this._backlog = [];
    this._backlogBytes = 0;
    for (const frame of backlog) this._sendAudio(frame);
  }
  /** Send the messages typed while not connected, in order. */
  _sendOutbox() {
    const outbox = this._outbox;
    this._outbox = [];
    for (const text of outbox) this.sendMessage(text);
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
      const voice = typeof agent.voice === "string" ? agent.voice : agent.voice && (agent.voice.voiceId || agent.voice.voice_id);
      if (voice) session.audio.output.voice = voice;
    }
    if (this.options.session) session = deepMerge(session, this.options.session);
    return session;
  }
  /** Close the session and stop the microphone; status becomes 'disconnected'. */
  disconnect() {
    const ws = this._ws;
    this._ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1e3, "client disconnected");
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
    this._outbox = [];
    this._replayEchoes = 0;
    this._interrupted.clear();
    this._receivedMs.clear();
    this.resumeHandle = null;
    this._credential = null;
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
      this._keep(frame);
      return;
    }
    if (this.status !== "connected") return;
    const bytes = int16ToBytes(new Int16Array(frame));
    if (this._send({ type: "input_audio_buffer.append", audio: bytesToBase64(bytes) })) {
      this.audioBytesSent += bytes.length;
    }
  }
  /**
   * Send a user text message and ask for a reply (interrupting the current one). While
   * connecting or reconnecting the message waits and is sent once connected; when disconnected
   * it throws.
   */
  sendMessage(text) {
    const message = String(text);
    if (this.status === "connecting" || this.status === "reconnecting") {
      if (message.trim()) this._outbox.push(message);
      return;
    }
    if (this.status !== "connected") throw new Error(`cannot send a message while ${this.status}`);
    if (!message.trim()) return;
    this._bargeIn();
    this._send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: message }] }
    });
    if (this._activeResponse) {
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
      audio_end_ms: audioEndMs
    });
  }
  _onPlaybackIdle() {
    if (this._responseDone && this.agentState === "speaking") this._setState("listening");
  }
  // -- server events -------------------------------------------------------------------------------
  _entry(itemId, role) {
    let entry = this._entries.get(itemId);
    if (!entry) {
      let n = 1;
      const taken = (id) => this.transcript.some((e) => e.itemId === id);
      while (taken(`${itemId}~${n}`)) n += 1;
      const transcript = this.transcript.map((e) => e.itemId === itemId ? { ...e, itemId: `${itemId}~${n}` } : e);
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
    this.transcript = this.transcript.map((e) => e.itemId === itemId ? next : e);
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
        const text = (item.content || []).map((part) => part.text || part.transcript || "").join("");
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
        this._activeResponse = event.response?.id || "response";
        this._responseDone = false;
        break;
      case "response.output_audio.delta":
      case "response.audio.delta": {
        if (this._interrupted.has(event.item_id)) break;
        const bytes = base64ToBytes(event.delta || "");
        const ms = (this._receivedMs.get(event.item_id) || 0) + bytes.length / 2 / WIRE_RATE * 1e3;
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
        if (this.agentState === "thinking" && !this.channel?.playing) this._setState("speaking");
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
        } else if (!this.channel?.playing) {
          this._setState("listening");
        }
        if (event.response?.status === "failed") {
          const e = event.response.status_details?.error || {};
          this._report(new RealtimeError(e.message || "the response failed", e.code || "response_failed"));
        }
        break;
      }
      case "error": {
        const e = event.error || {};
        if (e.code === "response_cancel_not_active") break;
        this._report(new RealtimeError(e.message || "the server reported an error", e.code || "server_error"));
        break;
      }
      default:
        break;
    }
  }
};
export {
  BrowserChannel,
  Emitter,
  RECONNECT_DELAYS_MS,
  RealtimeClient,
  RealtimeError,
  WIRE_RATE,
  base64ToBytes,
  bytesToBase64,
  checkCredential,
  fetchCredential,
  parseCredential,
  parseExpiry,
  pcm16ToFloat32
};
