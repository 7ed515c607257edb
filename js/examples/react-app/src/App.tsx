/**
 * A voice agent in a React app, the way a user builds one: @voicewire/react's hooks against a
 * voicewire server on the same origin (credentials from POST /realtime/credential).
 */
import { fetchCredential } from "@voicewire/client";
import { useBrowserAudio, useRealtime } from "@voicewire/react";
import { useState, type FormEvent } from "react";

export function App() {
  const { channel } = useBrowserAudio();
  const { status, connect, disconnect, muted, mute, unmute, sendMessage, agentState, transcript } = useRealtime(null, {
    channel,
    getCredential: () => fetchCredential(), // reconnects by itself when the server drops the session
  });
  const [draft, setDraft] = useState("");
  const [error, setError] = useState("");

  const start = () => {
    setError("");
    fetchCredential()
      .then(connect)
      .catch((err: Error) => setError(err.message));
  };
  const send = (event: FormEvent) => {
    event.preventDefault();
    if (!draft.trim()) return;
    sendMessage(draft);
    setDraft("");
  };

  return (
    <main>
      <h1>voicewire</h1>
      <p>
        status: <b id="status">{status}</b> · agent: <b id="state">{agentState}</b> · muted:{" "}
        <b id="muted">{String(muted)}</b>
      </p>
      <button id="start" onClick={start} disabled={status !== "disconnected"}>
        Start
      </button>
      <button id="mute" onClick={muted ? unmute : mute} disabled={status === "disconnected"}>
        {muted ? "Unmute" : "Mute"}
      </button>
      <button id="end" onClick={disconnect} disabled={status === "disconnected"}>
        End
      </button>
      <ul id="transcript">
        {transcript
          .filter((line) => line.text)
          .map((line) => (
            <li key={line.itemId} className={line.role}>
              {line.text}
            </li>
          ))}
      </ul>
      <form id="composer" onSubmit={send}>
        <input id="message" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Type a message…" />
        <button id="send" type="submit" disabled={status !== "connected"}>
          Send
        </button>
      </form>
      <p id="error" role="alert">
        {error}
      </p>
    </main>
  );
}
