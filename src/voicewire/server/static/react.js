// voicewire React bindings: an ES module, no build step. React is the host page's peer dependency,
// resolved by its import map ({"imports": {"react": "..."}}).
//
//   import { useRealtime, useBrowserAudio } from "/static/react.js";
//
//   function Voice() {
//     const { channel } = useBrowserAudio();
//     const { status, connect, disconnect, muted, mute, unmute, sendMessage } =
//       useRealtime(null, { channel });
//     const start = async () => {
//       const { credential } = await (await fetch("/realtime/credential", { method: "POST" })).json();
//       await connect(credential);
//     };
//     ...
//   }

import * as React from "react";

import { BrowserChannel, RealtimeClient } from "./voicewire.js";

const AGENT_KEYS = ["instructions", "voice", "name", "id"];
const OPTION_KEYS = ["url", "channel", "session", "getCredential", "channelOptions", "agent", "resume"];

function looksLikeAgent(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    AGENT_KEYS.some((key) => key in value) &&
    !OPTION_KEYS.some((key) => key in value)
  );
}

/** `useRealtime(agent, options)` or `useRealtime(options)` -> RealtimeClient options. */
function resolveOptions(agentOrOptions, options) {
  if (options !== undefined) return { ...options, agent: agentOrOptions ?? options.agent };
  if (looksLikeAgent(agentOrOptions)) return { agent: agentOrOptions };
  return { ...(agentOrOptions || {}) };
}

/**
 * A realtime voice session for a component.
 *
 * `agentOrOptions`: the agent (`{instructions, voice}`, sent in session.update; on a voicewire
 * server the server's agent runs and may be left out: pass null) or, alone, the options of
 * RealtimeClient (`url`, `channel`, `session`, `getCredential`). The options are read once, when
 * the component mounts.
 *
 * Returns `{status, connect, disconnect, muted, mute, unmute, sendMessage}` (the seed's
 * UseRealtimeReturn), plus `agentState` and `transcript`.
 */
export function useRealtime(agentOrOptions, options) {
  const clientRef = React.useRef(null);
  if (clientRef.current === null) {
    const resolved = resolveOptions(agentOrOptions, options);
    // a channel managed by useBrowserAudio may be undefined on the first render
    if (resolved.channel === undefined && options && "channel" in options) resolved.channel = null;
    clientRef.current = new RealtimeClient(resolved);
  }
  const client = clientRef.current;
  const channel = options && "channel" in options ? options.channel : undefined;
  if (channel !== undefined && channel !== null && client.channel !== channel) {
    if (client.status === "disconnected") client.channel = channel;
  }

  const [status, setStatus] = React.useState(client.status);
  const [muted, setMuted] = React.useState(client.muted);
  const [agentState, setAgentState] = React.useState(client.agentState);
  const [transcript, setTranscript] = React.useState(client.transcript);

  React.useEffect(() => {
    const offs = [
      client.on("status", setStatus),
      client.on("muted", setMuted),
      client.on("state", setAgentState),
      client.on("transcript", setTranscript),
    ];
    setStatus(client.status);
    setMuted(client.muted);
    return () => {
      for (const off of offs) off();
      client.disconnect();
    };
  }, [client]);

  const connect = React.useCallback((credential) => client.connect(credential), [client]);
  const disconnect = React.useCallback(() => client.disconnect(), [client]);
  const mute = React.useCallback(() => client.mute(), [client]);
  const unmute = React.useCallback(() => client.unmute(), [client]);
  const sendMessage = React.useCallback((text) => client.sendMessage(text), [client]);

  return { status, connect, disconnect, muted, mute, unmute, sendMessage, agentState, transcript };
}

/**
 * A BrowserChannel for the component's lifetime (closed on unmount). Pass it to useRealtime;
 * `connect` initializes it (microphone permission) when it is not yet.
 *
 * Returns `{channel}` (undefined during the very first render).
 */
export function useBrowserAudio(options) {
  const [channel, setChannel] = React.useState(undefined);
  React.useEffect(() => {
    const created = new BrowserChannel(options);
    setChannel(created);
    return () => created.close();
    // options are read once, at mount
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { channel };
}
