import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { RECONNECT_DELAYS_MS, RealtimeClient, type RealtimeClientOptions, type TransportStatus } from "../src/index.js";
import { FakeChannel, FakeWebSocket } from "./fakes.js";

const URL = "ws://127.0.0.1:9/v1/realtime";
const credential = () => ({ kind: "token" as const, token: "tok", expiresAt: new Date(Date.now() + 60_000) });

function client(options: RealtimeClientOptions = {}): { client: RealtimeClient; statuses: TransportStatus[] } {
  const created = new RealtimeClient({ url: URL, channel: null, ...options });
  const statuses: TransportStatus[] = [];
  created.on("status", (status) => statuses.push(status));
  return { client: created, statuses };
}

/** Let pending promise callbacks run (no timers). */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** (Fake timers) the link drops (1006), and each reconnect attempt is closed with `code`. */
async function dropAndCloseEveryAttempt(code: number, reason = ""): Promise<void> {
  FakeWebSocket.last.drop(1006, "");
  for (const wait of RECONNECT_DELAYS_MS) {
    await vi.advanceTimersByTimeAsync(wait);
    FakeWebSocket.last.drop(code, reason);
    await vi.advanceTimersByTimeAsync(0);
  }
}

beforeEach(() => {
  FakeWebSocket.sockets = [];
  vi.stubGlobal("WebSocket", FakeWebSocket);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("status", () => {
  it("goes connecting, connected on session.created, then disconnected", async () => {
    const { client: c, statuses } = client();
    const connecting = c.connect(credential());
    expect(c.status).toBe("connecting");
    await settle();
    const ws = FakeWebSocket.last;
    expect(ws.url).toBe(URL);
    expect(ws.protocols).toEqual(["realtime", "openai-insecure-api-key.tok"]);
    ws.accept();
    expect(c.status).toBe("connecting"); // the socket is open, the session is not yet
    expect(ws.sent[0]?.type).toBe("session.update");
    ws.receive({ type: "session.created", session: { id: "sess_9" } });
    await connecting;
    expect(c.status).toBe("connected");
    expect(c.sessionId).toBe("sess_9");
    c.disconnect();
    expect(ws.closedByClient).toEqual({ code: 1000, reason: "client disconnected" });
    expect(statuses).toEqual(["connecting", "connected", "disconnected"]);
    c.close();
    expect(statuses.at(-1)).toBe("closed");
    await expect(c.connect(credential())).rejects.toThrow(/closed/);
  });

  it("goes back to disconnected when the server refuses the session, with its code", async () => {
    const { client: c, statuses } = client();
    const errors: string[] = [];
    c.on("error", (err) => errors.push(err.code));
    const connecting = c.connect(credential());
    await settle();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.receive({ type: "error", error: { message: "at capacity", code: "server_at_capacity" } });
    await expect(connecting).rejects.toMatchObject({ code: "server_at_capacity" });
    expect(statuses).toEqual(["connecting", "disconnected"]);
    expect(errors).toEqual(["server_at_capacity"]);
  });

  it("refuses an expired credential before opening any socket", async () => {
    const { client: c, statuses } = client();
    await expect(c.connect({ kind: "token", token: "t", expiresAt: "2001-01-01T00:00:00Z" })).rejects.toMatchObject({
      code: "credential_expired",
    });
    expect(FakeWebSocket.sockets).toHaveLength(0);
    expect(statuses).toEqual([]);
  });
});

describe("mute", () => {
  it("stops microphone audio being sent, and unmute resumes it", async () => {
    const channel = new FakeChannel();
    const { client: c } = client({ channel: channel.asChannel() });
    const mutes: boolean[] = [];
    c.on("muted", (muted) => mutes.push(muted));
    const connecting = c.connect(credential());
    await settle();
    FakeWebSocket.last.openSession();
    await connecting;
    const ws = FakeWebSocket.last;

    channel.speak();
    expect(ws.sentOfType("input_audio_buffer.append")).toHaveLength(1);
    c.mute();
    expect(c.muted).toBe(true);
    for (let i = 0; i < 10; i++) channel.speak();
    expect(ws.sentOfType("input_audio_buffer.append")).toHaveLength(1);
    c.unmute();
    channel.speak(-7);
    const appends = ws.sentOfType("input_audio_buffer.append");
    expect(appends).toHaveLength(2);
    // little-endian PCM16 of the frame spoken after unmute (-7 = 0xfff9)
    const bytes = Buffer.from(appends[1]!["audio"] as string, "base64");
    expect([...bytes.subarray(0, 4)]).toEqual([0xf9, 0xff, 0xf9, 0xff]);
    expect(c.audioBytesSent).toBe(2 * 960);
    expect(mutes).toEqual([true, false]);
  });

  it("keeps nothing captured while muted for later either", async () => {
    const channel = new FakeChannel();
    const { client: c } = client({ channel: channel.asChannel() });
    c.mute();
    const connecting = c.connect(credential());
    await settle();
    channel.speak(); // muted while connecting
    FakeWebSocket.last.openSession();
    await connecting;
    expect(FakeWebSocket.last.sentOfType("input_audio_buffer.append")).toHaveLength(0);
  });
});

describe("sendMessage", () => {
  it("while connecting waits, then is sent in order once the session is up", async () => {
    const { client: c } = client();
    const connecting = c.connect(credential());
    c.sendMessage("first");
    c.sendMessage("   "); // nothing to say: not sent
    c.sendMessage("second");
    await settle();
    const ws = FakeWebSocket.last;
    ws.accept();
    expect(ws.sentOfType("conversation.item.create")).toHaveLength(0);
    ws.receive({ type: "session.created", session: { id: "s" } });
    await connecting;
    const texts = ws
      .sentOfType("conversation.item.create")
      .map((e) => (e["item"] as { content: { text: string }[] }).content[0]!.text);
    expect(texts).toEqual(["first", "second"]);
    expect(ws.sent.map((e) => e.type)).toEqual([
      "session.update",
      "conversation.item.create",
      "response.create",
      "conversation.item.create",
      "response.create",
    ]);
  });

  it("while disconnected throws a clear error", () => {
    const { client: c } = client();
    expect(() => c.sendMessage("hello")).toThrow("cannot send a message while disconnected");
  });

  it("typed while connecting is dropped with the attempt when the connection fails", async () => {
    const { client: c } = client();
    const connecting = c.connect(credential());
    c.sendMessage("lost with the attempt");
    await settle();
    FakeWebSocket.last.drop(1008, "bad token");
    await expect(connecting).rejects.toMatchObject({ code: "connection_refused" });
    const second = c.connect(credential());
    await settle();
    FakeWebSocket.last.openSession();
    await second;
    expect(FakeWebSocket.last.sentOfType("conversation.item.create")).toHaveLength(0);
  });
});

describe("reconnect", () => {
  async function connected(getCredential: () => Promise<ReturnType<typeof credential>>) {
    const made = client({ getCredential });
    const connecting = made.client.connect(credential());
    await settle();
    FakeWebSocket.last.openSession("first");
    await connecting;
    return made;
  }

  it("backs off between attempts, then replays the conversation on the new session", async () => {
    const getCredential = vi.fn(async () => credential());
    const { client: c, statuses } = await connected(getCredential);
    const first = FakeWebSocket.last;
    first.receive({
      type: "conversation.item.added",
      item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "the number is 7" }] },
    });
    expect(c.transcript).toEqual([{ role: "user", text: "the number is 7", itemId: "u1" }]);

    vi.useFakeTimers();
    first.drop(1012, "service restart");
    expect(c.status).toBe("reconnecting");
    c.sendMessage("typed while reconnecting");

    // no attempt before the first delay
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0]! - 1);
    expect(FakeWebSocket.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.sockets).toHaveLength(2);
    expect(getCredential).toHaveBeenCalledTimes(1);

    // the first attempt is refused: the next one waits longer
    FakeWebSocket.last.drop(1013, "try again later");
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[1]! - 1);
    expect(FakeWebSocket.sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.sockets).toHaveLength(3);
    expect(c.status).toBe("reconnecting");

    const third = FakeWebSocket.last;
    third.openSession("second");
    await vi.advanceTimersByTimeAsync(0);
    expect(c.status).toBe("connected");
    expect(statuses).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    // the conversation so far, then what was typed meanwhile
    expect(third.sent.map((e) => e.type)).toEqual([
      "session.update",
      "conversation.item.create",
      "conversation.item.create",
      "response.create",
    ]);
    const items = third.sentOfType("conversation.item.create").map((e) => e["item"]);
    expect(items).toEqual([
      { type: "message", role: "user", content: [{ type: "input_text", text: "the number is 7" }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "typed while reconnecting" }] },
    ]);
    // the server's echo of the replayed item is not a new line
    third.receive({
      type: "conversation.item.added",
      item: { id: "n1", type: "message", role: "user", content: [{ type: "input_text", text: "the number is 7" }] },
    });
    expect(c.transcript.map((e) => e.text)).toEqual(["the number is 7"]);
  });

  it("gives up after the last delay: disconnected, with connection_lost", async () => {
    const getCredential = vi.fn(async () => credential());
    const { client: c, statuses } = await connected(getCredential);
    const errors: string[] = [];
    c.on("error", (err) => errors.push(`${err.code}: ${err.message}`));
    vi.useFakeTimers();
    await dropAndCloseEveryAttempt(1013, "try again later");
    expect(FakeWebSocket.sockets).toHaveLength(1 + RECONNECT_DELAYS_MS.length);
    expect(c.status).toBe("disconnected");
    expect(statuses).toEqual(["connecting", "connected", "reconnecting", "disconnected"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^connection_lost: the connection was lost \(code 1006\); reconnecting failed/);
  });

  it("stops trying once the user disconnects", async () => {
    const { client: c } = await connected(async () => credential());
    vi.useFakeTimers();
    FakeWebSocket.last.drop();
    c.disconnect();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeWebSocket.sockets).toHaveLength(1);
    expect(c.status).toBe("disconnected");
  });
});

describe("resume (voicewire servers)", () => {
  it("asks for a handle, reconnects with it and replays nothing; the last attempt starts anew", async () => {
    const made = client({ resume: true, getCredential: async () => credential() });
    const c = made.client;
    const connecting = c.connect(credential());
    await settle();
    const first = FakeWebSocket.last;
    expect(new globalThis.URL(first.url).searchParams.get("voicewire_resume")).toBe("1");
    first.openSession();
    first.receive({ type: "voicewire.resume_handle", handle: "h-1" });
    await connecting;
    expect(c.resumeHandle).toBe("h-1");
    first.receive({
      type: "conversation.item.added",
      item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "seven" }] },
    });

    vi.useFakeTimers();
    first.drop(1012, "server restarting: reconnect");
    const urls = () => FakeWebSocket.sockets.slice(1).map((ws) => new globalThis.URL(ws.url).searchParams.get("resume"));
    for (const wait of RECONNECT_DELAYS_MS.slice(0, -1)) {
      await vi.advanceTimersByTimeAsync(wait);
      FakeWebSocket.last.drop(1013, "try again later");
    }
    expect(urls()).toEqual(RECONNECT_DELAYS_MS.slice(0, -1).map(() => "h-1"));
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS.at(-1)!);
    expect(urls().at(-1)).toBeNull(); // the last attempt: a new session, the conversation replayed
    FakeWebSocket.last.openSession("fresh");
    await vi.advanceTimersByTimeAsync(0);
    expect(c.status).toBe("connected");
    expect(FakeWebSocket.last.sentOfType("conversation.item.create")).toHaveLength(1);
  });

  it("a resumed session gets no replay, only what was typed meanwhile", async () => {
    const made = client({ resume: true, getCredential: async () => credential() });
    const c = made.client;
    const connecting = c.connect(credential());
    await settle();
    FakeWebSocket.last.openSession();
    FakeWebSocket.last.receive({ type: "voicewire.resume_handle", handle: "h-2" });
    await connecting;
    FakeWebSocket.last.receive({
      type: "conversation.item.added",
      item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "seven" }] },
    });
    vi.useFakeTimers();
    FakeWebSocket.last.drop(1012, "server restarting: reconnect");
    c.sendMessage("and now?");
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0]!);
    const resumed = FakeWebSocket.last;
    expect(new globalThis.URL(resumed.url).searchParams.get("resume")).toBe("h-2");
    resumed.openSession();
    await vi.advanceTimersByTimeAsync(0);
    const items = resumed.sentOfType("conversation.item.create").map((e) => e["item"]);
    expect(items).toEqual([{ type: "message", role: "user", content: [{ type: "input_text", text: "and now?" }] }]);
  });

  it("a close that ends the session (1000, 1008) is not retried", async () => {
    for (const [code, error] of [
      [1000, "session_ended"],
      [1008, "policy_violation"],
    ] as const) {
      FakeWebSocket.sockets = [];
      const getCredential = vi.fn(async () => credential());
      const { client: c, statuses } = client({ getCredential });
      const errors: string[] = [];
      c.on("error", (err) => errors.push(err.code));
      const connecting = c.connect(credential());
      await settle();
      FakeWebSocket.last.openSession();
      await connecting;
      FakeWebSocket.last.drop(code, "idle");
      await settle();
      expect(statuses).toEqual(["connecting", "connected", "disconnected"]);
      expect(errors).toEqual([error]);
      expect(getCredential).not.toHaveBeenCalled();
    }
  });
});

describe("reconnect without getCredential (the credential it connected with)", () => {
  /** A client connected with `given` (no getCredential), its resume handle "h-1", and its errors. */
  async function connectedWith(given: object) {
    const made = client({ resume: true });
    const errors: { code: string; message: string }[] = [];
    made.client.on("error", (err) => errors.push({ code: err.code, message: err.message }));
    const connecting = made.client.connect(given as Parameters<RealtimeClient["connect"]>[0]);
    await settle();
    FakeWebSocket.last.openSession("first");
    FakeWebSocket.last.receive({ type: "voicewire.resume_handle", handle: "h-1" });
    await connecting;
    FakeWebSocket.last.receive({
      type: "conversation.item.added",
      item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "seven" }] },
    });
    return { ...made, errors };
  }
  const resumeOf = (ws: FakeWebSocket) => new globalThis.URL(ws.url).searchParams.get("resume");

  it("reconnects with the same credential and backoff, resuming with the handle", async () => {
    const { client: c, statuses, errors } = await connectedWith({ value: "long-lived", expires_at: null });
    vi.useFakeTimers();
    FakeWebSocket.last.drop(1006, "");
    expect(c.status).toBe("reconnecting");
    c.sendMessage("and now?");
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0]! - 1);
    expect(FakeWebSocket.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    FakeWebSocket.last.drop(1013, "try again later"); // not back yet: the next attempt waits longer
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[1]!);
    expect(FakeWebSocket.sockets).toHaveLength(3);
    for (const ws of FakeWebSocket.sockets) {
      expect(ws.protocols).toEqual(["realtime", "openai-insecure-api-key.long-lived"]);
    }
    expect(FakeWebSocket.sockets.slice(1).map(resumeOf)).toEqual(["h-1", "h-1"]);
    const resumed = FakeWebSocket.last;
    resumed.openSession("first");
    await vi.advanceTimersByTimeAsync(0);
    expect(c.status).toBe("connected");
    expect(statuses).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    // resumed: no replay, only what was typed meanwhile, once
    const items = resumed.sentOfType("conversation.item.create").map((e) => e["item"]);
    expect(items).toEqual([{ type: "message", role: "user", content: [{ type: "input_text", text: "and now?" }] }]);
    expect(c.transcript.map((e) => e.text)).toEqual(["seven"]);
    expect(errors).toEqual([]);
  });

  it("does not reuse an expired credential: disconnected at once, credential_expired", async () => {
    const { client: c, statuses, errors } = await connectedWith(credential()); // expires in 60 s
    vi.useFakeTimers();
    vi.setSystemTime(Date.now() + 61_000);
    FakeWebSocket.last.drop(1012, "service restart");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeWebSocket.sockets).toHaveLength(1);
    expect(c.status).toBe("disconnected");
    expect(statuses).toEqual(["connecting", "connected", "disconnected"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe("credential_expired");
    expect(errors[0]!.message).toMatch(/code 1012.*has expired; a fresh credential is needed.*pass getCredential/);
  });

  it("stops when the credential expires while reconnecting", async () => {
    const { client: c, errors } = await connectedWith(credential());
    vi.useFakeTimers();
    FakeWebSocket.last.drop(1006, "");
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0]!);
    FakeWebSocket.last.drop(1013, "try again later");
    vi.setSystemTime(Date.now() + 61_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeWebSocket.sockets).toHaveLength(2);
    expect(c.status).toBe("disconnected");
    expect(errors.map((e) => e.code)).toEqual(["credential_expired"]);
  });

  it("stops at the first refusal of the credential, saying a fresh one is needed", async () => {
    const refusals: [string, (ws: FakeWebSocket) => void][] = [
      ["close 1008", (ws) => ws.drop(1008, "")],
      ["close 4401", (ws) => ws.drop(4401, "unauthorized")],
      ["close 4403", (ws) => ws.drop(4403, "forbidden")],
      [
        "error event",
        (ws) => {
          ws.accept();
          ws.receive({ type: "error", error: { code: "token_expired", message: "the token has expired" } });
        },
      ],
    ];
    for (const [what, refuse] of refusals) {
      vi.useRealTimers();
      FakeWebSocket.sockets = [];
      const { client: c, statuses, errors } = await connectedWith({ kind: "token", token: "revoked" });
      vi.useFakeTimers();
      FakeWebSocket.last.drop(1006, "");
      await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0]!);
      refuse(FakeWebSocket.last);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(FakeWebSocket.sockets, what).toHaveLength(2);
      expect(c.status, what).toBe("disconnected");
      expect(statuses, what).toEqual(["connecting", "connected", "reconnecting", "disconnected"]);
      expect(errors.map((e) => e.code), what).toEqual(["credential_refused"]);
      expect(errors[0]!.message, what).toMatch(/server refused the credential.*fresh credential is needed.*getCredential/);
    }
  });

  it("a handshake that only fails (1006, as a browser sees an HTTP 401) ends with the last delay", async () => {
    const { client: c, errors } = await connectedWith({ kind: "token", token: "t" });
    vi.useFakeTimers();
    await dropAndCloseEveryAttempt(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeWebSocket.sockets).toHaveLength(1 + RECONNECT_DELAYS_MS.length);
    expect(c.status).toBe("disconnected");
    expect(errors.map((e) => e.code)).toEqual(["connection_lost"]);
    expect(errors[0]!.message).toMatch(/reconnecting failed.*if the server no longer takes the credential.*getCredential/);
  });
});
