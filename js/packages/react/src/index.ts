/**
 * @voicewire/react — React bindings of voicewire's browser client.
 *
 *   import { useBrowserAudio, useRealtime } from "@voicewire/react";
 *
 *   function Voice() {
 *     const { channel } = useBrowserAudio();
 *     const { status, connect, disconnect, muted, mute, unmute, sendMessage } =
 *       useRealtime(null, { channel });
 *     const start = async () => {
 *       const { credential } = await (await fetch("/realtime/credential", { method: "POST" })).json();
 *       await connect(credential);
 *     };
 *     ...
 *   }
 */

import {
  BrowserChannel,
  RealtimeClient,
  type AgentConfig,
  type AgentState,
  type BrowserChannelOptions,
  type CredentialInput,
  type RealtimeClientOptions,
  type TranscriptEntry,
  type TransportStatus,
} from "@voicewire/client";
import * as React from "react";

export type {
  AgentConfig,
  AgentState,
  BrowserChannelOptions,
  ClientCredential,
  CredentialInput,
  RealtimeClientOptions,
  TranscriptEntry,
  TransportStatus,
} from "@voicewire/client";

/** Return value from the useRealtime hook: exactly the seed's `UseRealtimeReturn`. */
export interface UseRealtimeReturn {
  /** Current connection status. */
  status: TransportStatus;
  /** Connect to the realtime model with the given credential. */
  connect: (credential: CredentialInput) => Promise<void>;
  /** Disconnect from the realtime model. */
  disconnect: () => void;
  /** Whether audio input is muted. */
  muted: boolean;
  /** Mute audio input. */
  mute: () => void;
  /** Unmute audio input. */
  unmute: () => void;
  /** Send a text message to the model. */
  sendMessage: (text: string) => void;
}

/** What voicewire adds beside the seed's fields. */
export interface UseRealtimeExtras {
  /** What the agent is doing: listening, thinking or speaking. */
  agentState: AgentState;
  /** The conversation so far, one entry per item, updated as text streams in. */
  transcript: TranscriptEntry[];
}

/** What useRealtime returns: the seed's fields and voicewire's additions. */
export type UseRealtimeResult = UseRealtimeReturn & UseRealtimeExtras;

/**
 * RealtimeClient's options, as useRealtime takes them. `channel` may be `undefined` on the very
 * first render (useBrowserAudio creates its channel in an effect): the hook picks it up later.
 */
export type UseRealtimeOptions = RealtimeClientOptions;

/** What useBrowserAudio returns. */
export interface UseBrowserAudioReturn {
  /** The component's BrowserChannel (undefined during the very first render). */
  channel: BrowserChannel | undefined;
}

const AGENT_KEYS = ["instructions", "voice", "name", "id"];
const OPTION_KEYS = ["url", "channel", "session", "getCredential", "channelOptions", "agent", "resume"];

function looksLikeAgent(value: unknown): value is AgentConfig {
  return (
    value !== null &&
    typeof value === "object" &&
    AGENT_KEYS.some((key) => key in value) &&
    !OPTION_KEYS.some((key) => key in value)
  );
}

/** `useRealtime(agent, options)` or `useRealtime(options)` -> RealtimeClient options. */
function resolveOptions(
  agentOrOptions: AgentConfig | UseRealtimeOptions | null | undefined,
  options: UseRealtimeOptions | undefined,
): RealtimeClientOptions {
  if (options !== undefined) return { ...options, agent: (agentOrOptions as AgentConfig | null) ?? options.agent };
  if (looksLikeAgent(agentOrOptions)) return { agent: agentOrOptions };
  return { ...((agentOrOptions as UseRealtimeOptions | null | undefined) || {}) };
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
export function useRealtime(agent: AgentConfig | null, options?: UseRealtimeOptions): UseRealtimeResult;
export function useRealtime(options?: UseRealtimeOptions): UseRealtimeResult;
export function useRealtime(
  agentOrOptions?: AgentConfig | UseRealtimeOptions | null,
  options?: UseRealtimeOptions,
): UseRealtimeResult {
  const clientRef = React.useRef<RealtimeClient | null>(null);
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

  const [status, setStatus] = React.useState<TransportStatus>(client.status);
  const [muted, setMuted] = React.useState(client.muted);
  const [agentState, setAgentState] = React.useState<AgentState>(client.agentState);
  const [transcript, setTranscript] = React.useState<TranscriptEntry[]>(client.transcript);

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

  const connect = React.useCallback((credential: CredentialInput) => client.connect(credential), [client]);
  const disconnect = React.useCallback(() => client.disconnect(), [client]);
  const mute = React.useCallback(() => client.mute(), [client]);
  const unmute = React.useCallback(() => client.unmute(), [client]);
  const sendMessage = React.useCallback((text: string) => client.sendMessage(text), [client]);

  return { status, connect, disconnect, muted, mute, unmute, sendMessage, agentState, transcript };
}

/**
 * A BrowserChannel for the component's lifetime (closed on unmount). Pass it to useRealtime;
 * `connect` initializes it (microphone permission) when it is not yet.
 *
 * Returns `{channel}` (undefined during the very first render).
 */
export function useBrowserAudio(options?: BrowserChannelOptions): UseBrowserAudioReturn {
  const [channel, setChannel] = React.useState<BrowserChannel | undefined>(undefined);
  React.useEffect(() => {
    const created = new BrowserChannel(options);
    setChannel(created);
    return () => created.close();
    // options are read once, at mount
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { channel };
}
