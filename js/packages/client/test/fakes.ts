/** A fake WebSocket (the server side scripted by the test) and a fake BrowserChannel. */

import { Emitter, type BrowserChannel, type BrowserChannelEvents, type Interruption } from "../src/index.js";

type Json = { type: string; [key: string]: unknown };

export class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  /** Every socket opened, oldest first. */
  static sockets: FakeWebSocket[] = [];

  readonly url: string;
  readonly protocols: string[];
  readyState = FakeWebSocket.CONNECTING;
  /** What the client sent, parsed. */
  readonly sent: Json[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((close: { code: number; reason: string }) => void) | null = null;

  constructor(url: string, protocols: string[]) {
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.sockets.push(this);
  }

  static get last(): FakeWebSocket {
    const socket = FakeWebSocket.sockets.at(-1);
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }

  send(data: string): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data) as Json);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.closedByClient = { code, reason };
    this.readyState = FakeWebSocket.CLOSED;
    queueMicrotask(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? "" }));
  }

  // -- the server's side ---------------------------------------------------------------------------

  /** The handshake succeeds. */
  accept(): void {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.();
  }

  /** The server sends `event`. */
  receive(event: Json): void {
    this.onmessage?.({ data: JSON.stringify(event) });
  }

  /** Handshake, then session.created. */
  openSession(id = "sess_1"): void {
    this.accept();
    this.receive({ type: "session.created", session: { id } });
  }

  /** The server (or the network) closes the connection. */
  drop(code = 1012, reason = "service restart"): void {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code, reason });
  }

  sentOfType(type: string): Json[] {
    return this.sent.filter((event) => event.type === type);
  }
}

/** Stands in for BrowserChannel: the test pushes microphone frames with `speak()`. */
export class FakeChannel extends Emitter<BrowserChannelEvents> {
  initialized = false;
  playing = false;
  played: { itemId: string; bytes: number }[] = [];

  async init(): Promise<void> {
    this.initialized = true;
  }

  close(): void {
    this.initialized = false;
  }

  interrupt(): Interruption | null {
    return null;
  }

  play(pcm: Uint8Array | ArrayBuffer | string, itemId = ""): void {
    const bytes = typeof pcm === "string" ? pcm.length : pcm.byteLength;
    this.played.push({ itemId, bytes });
  }

  /** One 20 ms microphone frame of 24 kHz PCM16, every sample `value`. */
  speak(value = 1000): void {
    this.emit("audio", new Int16Array(480).fill(value).buffer);
  }

  asChannel(): BrowserChannel {
    return this as unknown as BrowserChannel;
  }
}
