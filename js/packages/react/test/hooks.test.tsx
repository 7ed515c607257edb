// @vitest-environment jsdom
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, expect, it, vi } from "vitest";

import { FakeWebSocket } from "../../client/test/fakes.js";
import { useRealtime, type UseRealtimeResult } from "../src/index.js";

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
