// Built from js/packages/react/src/index.ts by `make js` (js/scripts/build-static.mjs): edit the TypeScript, not this file.
// import { useRealtime, useBrowserAudio } from "/static/react.js" ("react" from the page's import map); the API: js/packages/react/README.md

// packages/react/src/index.ts
import {
  BrowserChannel,
  RealtimeClient
} from "./voicewire.js";
import * as React from "react";
var AGENT_KEYS = ["instructions", "voice", "name", "id"];
var OPTION_KEYS = ["url", "channel", "session", "getCredential", "channelOptions", "agent", "resume"];
function looksLikeAgent(value) {
  return value !== null && typeof value === "object" && AGENT_KEYS.some((key) => key in value) && !OPTION_KEYS.some((key) => key in value);
}
function resolveOptions(agentOrOptions, options) {
  if (options !== void 0) return { ...options, agent: agentOrOptions ?? options.agent };
  if (looksLikeAgent(agentOrOptions)) return { agent: agentOrOptions };
  return { ...agentOrOptions || {} };
}
function useRealtime(agentOrOptions, options) {
  const clientRef = React.useRef(null);
  if (clientRef.current === null) {
    const resolved = resolveOptions(agentOrOptions, options);
    if (resolved.channel === void 0 && options && "channel" in options) resolved.channel = null;
    clientRef.current = new RealtimeClient(resolved);
  }
  const client = clientRef.current;
  const channel = options && "channel" in options ? options.channel : void 0;
  if (channel !== void 0 && channel !== null && client.channel !== channel) {
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
      client.on("transcript", setTranscript)
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
function useBrowserAudio(options) {
  const [channel, setChannel] = React.useState(void 0);
  React.useEffect(() => {
    const created = new BrowserChannel(options);
    setChannel(created);
    return () => created.close();
  }, []);
  return { channel };
}
export {
  useBrowserAudio,
  useRealtime
};
