// @vitest-environment jsdom
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, expect, it, vi } from "vitest";

import { FakeWebSocket } from "../../client/test/fakes.js";
import { BrowserChannel } from "@voicewire/client";

import { useBrowserAudio, useRealtime, type UseBrowserAudioReturn, type UseRealtimeResult } from "../src/index.js";

declare global {
  // eslint-disable-next-line no-var
  var IS_REACT_ACT_ENVIRONMENT: boolean;
}

let root: Root;
let latest: UseRealtimeResult;

function Probe(): null {
  latest = useRealtime(null, { url: "ws://127.0.0.1:9/v1/realtime", channel: null });
  return null;
}

beforeEach(async () => {
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  FakeWebSocket.sockets = [];
  vi.stubGlobal("WebSocket", FakeWebSocket);
  root = createRoot(document.createElement("div"));
  await act(async () => root.render(<Probe />));
});

afterEach(() => {
  vi.unstubAllGlobals();
});

it("returns the seed's fields and voicewire's, and re-renders as the client changes", async () => {
  expect(Object.keys(latest).sort()).toEqual(
    ["agentState", "connect", "disconnect", "mute", "muted", "sendMessage", "status", "transcript", "unmute"].sort(),
  );
  expect(latest.status).toBe("disconnected");

  let connecting!: Promise<void>;
  await act(async () => {
    connecting = latest.connect({ kind: "token", token: "t", expiresAt: null });
  });
  expect(latest.status).toBe("connecting");
  const ws = FakeWebSocket.last;
  await act(async () => {
    ws.openSession();
    await connecting;
  });
  expect(latest.status).toBe("connected");

  await act(async () => latest.mute());
  expect(latest.muted).toBe(true);
  await act(async () => latest.unmute());
  expect(latest.muted).toBe(false);

  await act(async () => latest.sendMessage("hello"));
  expect(latest.agentState).toBe("thinking");
  await act(async () =>
    ws.receive({
      type: "conversation.item.added",
      item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] },
    }),
  );
  expect(latest.transcript).toEqual([{ role: "user", text: "hello", itemId: "u1" }]);

  // unmounting the component ends the session
  await act(async () => root.unmount());
  expect(ws.closedByClient).toEqual({ code: 1000, reason: "client disconnected" });
});

it("useRealtime(agent) sends the agent's instructions and voice in session.update", async () => {
  let hook!: UseRealtimeResult;
  function Agent(): null {
    hook = useRealtime({ instructions: "Be brief.", voice: "marin" }, { url: "ws://127.0.0.1:9/v1/realtime", channel: null });
    return null;
  }
  const other = createRoot(document.createElement("div"));
  await act(async () => other.render(<Agent />));
  let connecting!: Promise<void>;
  await act(async () => {
    connecting = hook.connect({ kind: "token", token: "t", expiresAt: null });
  });
  FakeWebSocket.last.openSession();
  await act(async () => connecting);
  const update = FakeWebSocket.last.sentOfType("session.update")[0]!;
  expect(update["session"]).toMatchObject({ instructions: "Be brief.", audio: { output: { voice: "marin" } } });
  await act(async () => other.unmount());
});

it("useBrowserAudio gives the component a channel and closes it on unmount", async () => {
  const closed = vi.spyOn(BrowserChannel.prototype, "close");
  let audio!: UseBrowserAudioReturn;
  function Audio(): null {
    audio = useBrowserAudio({ frameMs: 10 });
    return null;
  }
  const other = createRoot(document.createElement("div"));
  await act(async () => other.render(<Audio />));
  expect(audio.channel).toBeInstanceOf(BrowserChannel);
  expect(audio.channel!.frameMs).toBe(10);
  const before = closed.mock.calls.length;
  await act(async () => other.unmount());
  expect(closed.mock.calls.length).toBe(before + 1);
  expect(closed.mock.contexts.at(-1)).toBe(audio.channel);
});
