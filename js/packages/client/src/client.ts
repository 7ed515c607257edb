/**
 * RealtimeClient: a realtime voice session from the browser (the seed's UseRealtimeReturn, plus
 * agent state and the transcript), speaking the OpenAI Realtime GA wire protocol — to a voicewire
 * server, or, given an OpenAI ephemeral token and `url`, straight to OpenAI.
 */

import { BrowserChannel, type BrowserChannelOptions } from "./channel.js";
import {
  checkCredential,
  hasExpired,
  parseCredential,
  RealtimeError,
  type ClientCredential,
  type CredentialInput,
  type TransportStatus,
} from "./credential.js";
import { Emitter } from "./emitter.js";
import type { ClientEvent, KnownServerEvent, MessageItem, ServerEvent, SessionUpdate } from "./events.js";
import { base64ToBytes, bytesToBase64, int16ToBytes, WIRE_RATE } from "./pcm.js";

const TOKEN_SUBPROTOCOL = "openai-insecure-api-key.";
/** Waits before each reconnect attempt (then the client gives up and disconnects). */
export const RECONNECT_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000, 4000];
// Close codes after which reconnecting would only meet the same end: the server ended the session
// (1000: idle, time limit, done) or refused how it was used (1008 policy; 1002, 1003, 1007, 1009,
// 1010: frames it could not take). Any other close (1001 going away, 1006 dropped, 1011 server
// error, 1012 service restart, 1013 try again later) is reconnected with backoff.
const FINAL_CLOSE_CODES = new Set([1000, 1002, 1003, 1007, 1008, 1009, 1010]);
// Without getCredential the client reconnects with the credential it connected with, and stops
// at the first sign the server no longer takes it: a handshake closed with 1008 (policy) or
// 4401/4403 (the convention for HTTP 401/403 as a close code), or an error event before
// session.created with one of these codes (voicewire's 401 bodies, OpenAI's). A browser sees an
// HTTP 401/403 on the upgrade only as a close with 1006, like a server that is not back yet:
// those attempts stay bounded by RECONNECT_DELAYS_MS.
const REFUSED_CREDENTIAL_CLOSE_CODES = new Set([1008, 4401, 4403]);
const REFUSED_CREDENTIAL_CODES = new Set([
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
  "forbidden",
]);
const FRESH_CREDENTIAL_NEEDED =
  "a fresh credential is needed: connect() again with one, or pass getCredential to RealtimeClient " +
  "to have each reconnect fetch its own";
// A voicewire server sends the session's resume handle as this event when asked with
// ?voicewire_resume=1 (browsers cannot read the upgrade response's header), and resumes the
// session on any instance when reconnected to with ?resume=<handle>.
const RESUME_HANDLE_EVENT = "voicewire.resume_handle";
// Microphone audio captured before the session can take it (while connecting: the server's
// session.created may come seconds after the socket opens; while reconnecting) is kept, up to
// 10 s by default, and sent in order once connected. Past that the oldest goes, counted in
// audioBytesDropped.
const BACKLOG_MS = 10000;

/** What the agent is doing, as the user perceives it. */
export type AgentState = "listening" | "thinking" | "speaking";

/** One line of the conversation. `itemId` is unique within the transcript. */
export interface TranscriptEntry {
  role: "user" | "assistant";
  text: string;
  itemId: string;
}

/** The agent the browser asks for (on a voicewire server the server's agent applies if omitted). */
export interface AgentConfig {
  id?: string;
  name?: string;
  instructions?: string;
  voice?: string | { voiceId?: string; voice_id?: string };
}

/** An error the client reports: `code` is stable (`credential_expired`, `connection_lost`, ...). */
export type RealtimeClientError = Error & { code: string };

/** A failed attempt to open the session; `closeCode` when the socket closed before it began. */
type OpenError = RealtimeError & { closeCode?: number };

export interface RealtimeClientOptions {
  /**
   * WebSocket URL (default: this origin's /v1/realtime; for OpenAI
   * `wss://api.openai.com/v1/realtime?model=gpt-realtime`).
   */
  url?: string;
  /** Audio channel (default: a new BrowserChannel; null: text only). */
  channel?: BrowserChannel | null;
  /** Options of the default BrowserChannel. */
  channelOptions?: BrowserChannelOptions;
  /** `{instructions, voice}` sent in session.update. */
  agent?: AgentConfig | null;
  /**
   * Extra GA session fields, deep-merged into session.update (e.g.
   * `{audio: {input: {transcription: {model: "gpt-4o-mini-transcribe"}}}}` for OpenAI).
   */
  session?: Record<string, unknown>;
  /**
   * Fetches a fresh credential for each reconnect attempt (a single-use token is spent by the
   * connection it opened). A dropped connection is retried with backoff (status 'reconnecting',
   * RECONNECT_DELAYS_MS). A voicewire server resumes the session from its resume handle (the
   * conversation comes back from the server, on whichever instance answers); elsewhere, or when
   * the server no longer has it, the conversation so far is replayed as text items. Either way
   * what the user said meanwhile is sent once back. A close that says the session is over (1000:
   * ended by the server, idle or time limit; 1008: policy) is not retried: status 'disconnected'
   * and an 'error' with code `session_ended` or `policy_violation`.
   *
   * Without it, the client reconnects the same way with the credential it connected with (a
   * long-lived token, a client secret that has not expired), as long as that has not expired.
   * When it has (its `expiresAt` is past), or the server refuses it (a close with 1008,
   * 4401 or 4403 before the session began, or an error event such as `invalid_token`), the
   * client stops: status 'disconnected' and an 'error' with code `credential_expired` or
   * `credential_refused` saying a fresh credential is needed. Pass getCredential when the
   * credential is single-use or short-lived. (A browser sees an HTTP 401/403 on the upgrade only
   * as a close with 1006, like a server not back yet: such attempts end with the last delay,
   * code `connection_lost`.)
   */
  getCredential?: () => Promise<CredentialInput> | CredentialInput;
  /**
   * Ask the server for a resume handle (`?voicewire_resume=1`; only a voicewire server knows it)
   * and reconnect with it (default: true with the default `url`, false with a `url` of your own).
   */
  resume?: boolean;
  /** How much microphone audio is kept while connecting or reconnecting (default 10000 ms). */
  backlogMs?: number;
}

export type RealtimeClientEvents = {
  status: [status: TransportStatus];
  state: [state: AgentState];
  transcript: [transcript: TranscriptEntry[]];
  muted: [muted: boolean];
  error: [error: RealtimeClientError];
  /** Every server event, raw. */
  event: [event: ServerEvent];
};

function defaultUrl(): string {
  const url = new URL("/v1/realtime", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `base` with `extra` merged in, recursively (`extra` wins; arrays are replaced, not merged). */
function deepMerge<T extends object>(base: T, extra: object | undefined): T {
  const out: Plain = { ...(base as Plain) };
  for (const [key, value] of Object.entries(extra || {})) {
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? deepMerge(current, value) : value;
  }
  return out as T;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
 * bytes sent, `audioBytesDropped` the oldest kept bytes dropped past that bound. Text sent with
 * `sendMessage` while connecting or reconnecting is sent, in order, once connected.
 */
export class RealtimeClient extends Emitter<RealtimeClientEvents> {
  readonly options: RealtimeClientOptions;
  channel: BrowserChannel | null;
  status: TransportStatus = "disconnected";
  agentState: AgentState = "listening";
  muted = false;
  transcript: TranscriptEntry[] = [];
  sessionId: string | null = null;
  audioBytesSent = 0;
  audioBytesDropped = 0;
  /** The resume handle of the session (voicewire servers; null until one was sent). */
  resumeHandle: string | null = null;
  /** @internal the live socket (tests close it to simulate a network drop) */
  _ws: WebSocket | null = null;
  private _unsubscribe: (() => void)[] = [];
  private _activeResponse: string | null = null;
  private _pendingResponse = false;
  private readonly _interrupted = new Set<string>();
  private readonly _receivedMs = new Map<string, number>();
  private readonly _entries = new Map<string, TranscriptEntry>(); // itemId -> transcript entry
  private _responseDone = true;
  private _backlog: ArrayBuffer[] = [];
  private _backlogBytes = 0;
  private readonly _backlogLimit: number;
  private _outbox: string[] = []; // messages typed while connecting or reconnecting
  private _replayEchoes = 0;
  private _lastReconnectError: Error | null = null;
  private _credential: ClientCredential | null = null; // the one connect() got: reconnects reuse it
  private readonly _reported = new WeakSet<Error>();

  constructor(options: RealtimeClientOptions = {}) {
    super();
    this.options = options;
    this.channel =
      options.channel === undefined ? new BrowserChannel(options.channelOptions) : options.channel;
    this._backlogLimit = Math.round(((options.backlogMs ?? BACKLOG_MS) / 1000) * WIRE_RATE) * 2;
  }

  // -- status ------------------------------------------------------------------------------------

  /** The status now (it may have changed across an await). */
  private _now(): TransportStatus {
    return this.status;
  }

  private _setStatus(status: TransportStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit("status", status);
  }

  private _setState(state: AgentState): void {
    if (this.agentState === state) return;
    this.agentState = state;
    this.emit("state", state);
  }

  /** Emit `err` as an 'error' event (once) and return it. */
  private _report(err: unknown): RealtimeClientError {
    const error = (err instanceof Error ? err : new Error(String(err))) as RealtimeClientError;
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
  async connect(input: CredentialInput): Promise<void> {
    if (this.status === "closed") throw new Error("this client is closed; create a new one");
    if (this.status !== "disconnected") throw new Error(`cannot connect while ${this.status}`);
    let credential: ClientCredential;
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
          channel.on("idle", () => this._onPlaybackIdle()),
        );
      }
      if (this._now() !== "connecting") throw new RealtimeError("disconnected while connecting", "aborted");
      await this._open(credential);
      this._credential = credential;
      this._sendBacklog(); // what was said while connecting, before any newer frame
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
  private get _wantsHandle(): boolean {
    return this.options.resume ?? !this.options.url;
  }

  /** The WebSocket URL: asking for the resume handle, resuming with `resumeHandle` if given. */
  private _url(credential: ClientCredential, resumeHandle: string | null): string {
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
  private _open(credential: ClientCredential, resumeHandle: string | null = null): Promise<void> {
    const url = this._url(credential, resumeHandle);
    const protocols =
      credential.kind === "token" ? ["realtime", TOKEN_SUBPROTOCOL + credential.token] : ["realtime"];
    return new Promise((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(url, protocols);
      this._ws = ws;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        if (this._ws === ws) this._ws = null;
        if (ws.readyState <= WebSocket.OPEN) ws.close();
        reject(err);
      };
      ws.onopen = () => {
        this._send({ type: "session.update", session: this._sessionUpdate() });
      };
      ws.onmessage = (message: MessageEvent) => {
        if (this._ws !== ws) return;
        let event: KnownServerEvent;
        try {
          event = JSON.parse(String(message.data)) as KnownServerEvent;
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
        const raw: { type: string; handle?: unknown } = event;
        if (raw.type === RESUME_HANDLE_EVENT && typeof raw.handle === "string") {
          this.resumeHandle = raw.handle; // the newest: reconnect with it
        }
        this._onEvent(event);
      };
      ws.onerror = () => {
        // Browsers hide the reason (a 401 on the handshake, say); onclose follows.
      };
      ws.onclose = (close: CloseEvent) => {
        const why = `code ${close.code}${close.reason ? `: ${close.reason}` : ""}`;
        if (!settled) {
          const error: OpenError = new RealtimeError(
            `the realtime connection was refused or closed (${why}); ` +
              "the credential may be invalid or expired",
            "connection_refused",
          );
          error.closeCode = close.code;
          fail(error);
          return;
        }
        if (this._ws !== ws) return; // closed on purpose
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
  private async _lost(why: string, code: number): Promise<void> {
    if (this.channel) this.channel.interrupt();
    this._activeResponse = null;
    this._pendingResponse = false;
    this._responseDone = true;
    this._lastReconnectError = null;
    if (FINAL_CLOSE_CODES.has(code)) {
      const errorCode = code === 1000 ? "session_ended" : code === 1008 ? "policy_violation" : "protocol_error";
      this._report(new RealtimeError(`the server ended the session (${why})`, errorCode));
      this._teardown();
      this._setStatus("disconnected");
      return;
    }
    const getCredential = this.options.getCredential;
    const reused = this._credential;
    let end: RealtimeError | false | null = null; // false: the attempts ran out
    if (this.status === "connected" && getCredential) {
      end = await this._reconnect(async () => checkCredential(parseCredential(await getCredential())), null);
      if (end === null) return; // connected again, or disconnect() meanwhile
    } else if (this.status === "connected" && reused) {
      // an expired credential is not worth a wait: say so at once
      const next = async () => checkCredential(reused);
      end = hasExpired(reused) ? this._expired(why) : await this._reconnect(next, why);
      if (end === null) return; // connected again, or disconnect() meanwhile
    }
    const status = this._now();
    if (status === "connected" || status === "reconnecting") {
      const retry = this._lastReconnectError as Error | null; // set by _reconnect
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
  private async _reconnect(
    next: () => Promise<ClientCredential>,
    why: string | null,
  ): Promise<RealtimeError | false | null> {
    this._setStatus("reconnecting");
    this._setState("listening");
    for (const [attempt, wait] of RECONNECT_DELAYS_MS.entries()) {
      await delay(wait);
      if (this._now() !== "reconnecting") return null; // disconnect() meanwhile
      // A browser cannot tell a refused resume (the conversation expired) from a server that
      // is not back yet: the last attempt starts a new session and replays instead.
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
        if (refused) return refused; // the same credential would meet the same answer
      }
    }
    return false;
  }

  /** The connection was lost (`why`) and the credential we connected with has expired. */
  private _expired(why: string): RealtimeError {
    return new RealtimeError(
      `the connection was lost (${why}) and the credential it was opened with has expired; ${FRESH_CREDENTIAL_NEEDED}`,
      "credential_expired",
    );
  }

  /**
   * Why reconnecting with the credential we connected with is pointless, given how an attempt
   * with it failed (`error`), or null when another attempt may succeed.
   */
  private _refusal(error: Error & Partial<OpenError>, why: string): RealtimeError | null {
    if (error.code === "credential_expired") return this._expired(why); // while reconnecting
    const closed = error.closeCode !== undefined && REFUSED_CREDENTIAL_CLOSE_CODES.has(error.closeCode);
    if (closed || (error.code !== undefined && REFUSED_CREDENTIAL_CODES.has(error.code))) {
      return new RealtimeError(
        `the connection was lost (${why}) and the server refused the credential it was opened with ` +
          `(${error.message}); ${FRESH_CREDENTIAL_NEEDED}`,
        "credential_refused",
      );
    }
    return null;
  }

  /**
   * After a resumed reconnect: the server has the conversation and tells each item again under
   * the id it had (already in the transcript: not added twice); send what was said meanwhile.
   */
  private _resumed(): void {
    this._interrupted.clear();
    this._receivedMs.clear();
    this._replayEchoes = 0;
    this._sendBacklog();
    this._sendOutbox();
  }

  /** After a reconnect: give the new session the conversation so far, then what was said. */
  private _replay(): void {
    // The new session has new item ids: old entries stay in the transcript, but no longer map
    // to server items (an id the new session reuses gets a fresh entry; see _entry).
    this._entries.clear();
    this._interrupted.clear();
    this._receivedMs.clear();
    this._replayEchoes = 0;
    for (const entry of this.transcript) {
      if (!entry.text) continue;
      const item: MessageItem =
        entry.role === "assistant"
          ? { type: "message", role: "assistant", content: [{ type: "output_text", text: entry.text }] }
          : { type: "message", role: "user", content: [{ type: "input_text", text: entry.text }] };
      this._send({ type: "conversation.item.create", item });
      this._replayEchoes += 1; // the server echoes it as conversation.item.added: not new
    }
    this._sendBacklog();
    this._sendOutbox();
  }

  /** Send the audio kept while not connected, oldest first. */
  private _sendBacklog(): void {
    const backlog = this._backlog;
    this._backlog = [];
    this._backlogBytes = 0;
    for (const frame of backlog) this._sendAudio(frame);
  }

  /** Send the messages typed while not connected, in order. */
  private _sendOutbox(): void {
    const outbox = this._outbox;
    this._outbox = [];
    for (const text of outbox) this.sendMessage(text);
  }

  /** Keep a frame for later (bounded: the oldest frames go first, counted as dropped). */
  private _keep(frame: ArrayBuffer): void {
    this._backlog.push(frame);
    this._backlogBytes += frame.byteLength;
    while (this._backlogBytes > this._backlogLimit) {
      const oldest = this._backlog.shift()!;
      this._backlogBytes -= oldest.byteLength;
      this.audioBytesDropped += oldest.byteLength;
    }
  }

  private _sessionUpdate(): SessionUpdate {
    const format = { type: "audio/pcm", rate: WIRE_RATE } as const;
    let session: SessionUpdate = { type: "realtime", audio: { input: { format }, output: { format } } };
    const agent = this.options.agent;
    if (agent && typeof agent === "object") {
      if (agent.instructions) session.instructions = agent.instructions;
      const voice =
        typeof agent.voice === "string" ? agent.voice : agent.voice && (agent.voice.voiceId || agent.voice.voice_id);
      if (voice) session.audio!.output!.voice = voice;
    }
    if (this.options.session) session = deepMerge(session, this.options.session);
    return session;
  }

  /** Close the session and stop the microphone; status becomes 'disconnected'. */
  disconnect(): void {
    const ws = this._ws;
    this._ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "client disconnected");
    this._teardown();
    if (this.status !== "closed") this._setStatus("disconnected");
  }

  /** Disconnect for good: status becomes 'closed' and the client cannot connect again. */
  close(): void {
    this.disconnect();
    this._setStatus("closed");
  }

  private _teardown(): void {
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
    this.resumeHandle = null; // a new connect() starts a new session
    this._credential = null;
    this._setState("listening");
  }

  // -- input ---------------------------------------------------------------------------------------

  /** Stop sending microphone audio (nothing leaves the page while muted). */
  mute(): void {
    if (this.muted) return;
    this.muted = true;
    this.emit("muted", true);
  }

  unmute(): void {
    if (!this.muted) return;
    this.muted = false;
    this.emit("muted", false);
  }

  private _sendAudio(frame: ArrayBuffer): void {
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

  /**
   * Send a user text message and ask for a reply (interrupting the current one). While
   * connecting or reconnecting the message waits and is sent once connected; when disconnected
   * it throws.
   */
  sendMessage(text: string): void {
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

  private _send(event: ClientEvent): boolean {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(event));
    return true;
  }

  // -- playback ------------------------------------------------------------------------------------

  /** Stop playback and tell the server how much of the item the user heard. */
  private _bargeIn(): void {
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

  private _onPlaybackIdle(): void {
    if (this._responseDone && this.agentState === "speaking") this._setState("listening");
  }

  // -- server events -------------------------------------------------------------------------------

  private _entry(itemId: string, role: TranscriptEntry["role"]): TranscriptEntry {
    let entry = this._entries.get(itemId);
    if (!entry) {
      // An entry of an earlier session (before a reconnect) may carry the same id: rename it,
      // so that item ids stay unique in the transcript.
      let n = 1;
      const taken = (id: string): boolean => this.transcript.some((e) => e.itemId === id);
      while (taken(`${itemId}~${n}`)) n += 1;
      const transcript = this.transcript.map((e) => (e.itemId === itemId ? { ...e, itemId: `${itemId}~${n}` } : e));
      entry = { role, text: "", itemId };
      this._entries.set(itemId, entry);
      this.transcript = [...transcript, entry];
    }
    return entry;
  }

  private _setText(itemId: string, role: TranscriptEntry["role"], text: string, append: boolean): void {
    const entry = this._entry(itemId, role);
    const next = { ...entry, text: append ? entry.text + text : text };
    this._entries.set(itemId, next);
    this.transcript = this.transcript.map((e) => (e.itemId === itemId ? next : e));
    this.emit("transcript", this.transcript);
  }

  private _onEvent(event: KnownServerEvent): void {
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
        // a cancel racing the response's own end (see sendMessage) is harmless
        if (e.code === "response_cancel_not_active") break;
        this._report(new RealtimeError(e.message || "the server reported an error", e.code || "server_error"));
        break;
      }
      default:
        break;
    }
  }
}
