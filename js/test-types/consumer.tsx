/**
 * A consumer of both packages, as an application writes one, using every export (values and
 * types; test/exports.test.ts checks that none is missing). It only has to compile.
 */
import {
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
  pcm16ToFloat32,
  type AgentConfig,
  type AgentState,
  type AssistantMessageItem,
  type AudioFormat,
  type BrowserChannelEvents,
  type BrowserChannelOptions,
  type ClientCredential,
  type ClientCredentialJSON,
  type ClientEvent,
  type ConversationItemAddedEvent,
  type ConversationItemCreateEvent,
  type ConversationItemTruncateEvent,
  type CredentialInput,
  type CredentialResponse,
  type ErrorDetail,
  type ErrorEvent,
  type EventMap,
  type ExpiryInput,
  type FetchCredentialOptions,
  type InputAudioBufferAppendEvent,
  type InputAudioBufferCommittedEvent,
  type InputTextPart,
  type InputTranscriptionCompletedEvent,
  type InputTranscriptionDeltaEvent,
  type Interruption,
  type KnownServerEvent,
  type Listener,
  type MessageItem,
  type OpenAIClientSecret,
  type OutputTextPart,
  type RealtimeClientError,
  type RealtimeClientEvents,
  type RealtimeClientOptions,
  type ResponseAudioDeltaEvent,
  type ResponseAudioTranscriptDoneEvent,
  type ResponseCancelEvent,
  type ResponseCreateEvent,
  type ResponseCreatedEvent,
  type ResponseDoneEvent,
  type ResponseTextDeltaEvent,
  type ResponseTextDoneEvent,
  type ServerEvent,
  type SessionCreatedEvent,
  type SessionUpdate,
  type SessionUpdateEvent,
  type SpeechStartedEvent,
  type SpeechStoppedEvent,
  type SystemMessageItem,
  type TokenCredential,
  type TranscriptEntry,
  type TransportStatus,
  type UnknownServerEvent,
  type UrlCredential,
  type UserMessageItem,
} from "@voicewire/client";
import {
  useBrowserAudio,
  useRealtime,
  type UseBrowserAudioReturn,
  type UseRealtimeExtras,
  type UseRealtimeOptions,
  type UseRealtimeResult,
  type UseRealtimeReturn,
} from "@voicewire/react";
import { useState, type ReactElement } from "react";

// --- credentials ----------------------------------------------------------------------------------

const expiry: ExpiryInput = "2030-01-01T00:00:00Z";
const json: ClientCredentialJSON = { kind: "token", token: "t", expiresAt: expiry };
const answer: CredentialResponse = { credential: json };
const secret: OpenAIClientSecret = { value: "ek_1", expires_at: 1_900_000_000 };
const token: TokenCredential = { kind: "token", token: "t", expiresAt: parseExpiry(expiry) };
const url: UrlCredential = { kind: "url", url: "wss://example.invalid/signed", expiresAt: null };
const inputs: CredentialInput[] = [json, answer, secret, { client_secret: secret }, token, url];
const normalized: ClientCredential[] = inputs.map((input) => checkCredential(parseCredential(input)));
const expired = new RealtimeError("the credential has expired", "credential_expired");
const code: string = expired.code;
const endpoint: FetchCredentialOptions = { url: "/realtime/credential", body: {}, headers: { "X-App": "1" } };
const fetched: Promise<ClientCredential> = fetchCredential(endpoint);

// --- audio ----------------------------------------------------------------------------------------

const samples: Float32Array = pcm16ToFloat32(base64ToBytes(bytesToBase64(new Uint8Array(4))));
const rate: 24000 = WIRE_RATE;
const channelOptions: BrowserChannelOptions = { frameMs: 20, microphone: true, workletUrl: "/w.js" };
const channel = new BrowserChannel(channelOptions);
const onAudio: Listener<BrowserChannelEvents["audio"]> = (frame: ArrayBuffer) => void frame.byteLength;
channel.on("audio", onAudio);
const stopped: Interruption | null = channel.interrupt();
const heard: number = channel.playedMs(stopped?.itemId) + channel.totalPlayedMs() + channel.queuedMs();

// --- the client -----------------------------------------------------------------------------------

const agent: AgentConfig = { instructions: "Be brief.", voice: "marin" };
const options: RealtimeClientOptions = { agent, channel, getCredential: async () => answer, backlogMs: 5000 };
const client = new RealtimeClient(options);
const onStatus: Listener<RealtimeClientEvents["status"]> = (status: TransportStatus) => void status;
client.on("status", onStatus);
client.on("state", (state: AgentState) => void state);
client.on("transcript", (lines: TranscriptEntry[]) => void lines.map((line) => line.text));
client.on("error", (error: RealtimeClientError) => void error.code);
const delays: readonly number[] = RECONNECT_DELAYS_MS;

/** Reads server events as the client does, narrowing by `type`. */
function describe(event: ServerEvent): string {
  const known = event as KnownServerEvent;
  switch (known.type) {
    case "session.created":
      return (known satisfies SessionCreatedEvent).session.id ?? "";
    case "error": {
      const detail: ErrorDetail = (known satisfies ErrorEvent).error;
      return detail.message ?? "";
    }
    case "conversation.item.added":
    case "conversation.item.created":
      return (known satisfies ConversationItemAddedEvent).item.type;
    case "input_audio_buffer.speech_started":
      return (known satisfies SpeechStartedEvent).item_id;
    case "input_audio_buffer.speech_stopped":
      return (known satisfies SpeechStoppedEvent).item_id;
    case "input_audio_buffer.committed":
      return (known satisfies InputAudioBufferCommittedEvent).item_id;
    case "conversation.item.input_audio_transcription.delta":
      return (known satisfies InputTranscriptionDeltaEvent).delta ?? "";
    case "conversation.item.input_audio_transcription.completed":
      return (known satisfies InputTranscriptionCompletedEvent).transcript;
    case "response.created":
      return (known satisfies ResponseCreatedEvent).response.id ?? "";
    case "response.output_audio.delta":
    case "response.audio.delta":
      return (known satisfies ResponseAudioDeltaEvent).delta;
    case "response.output_audio_transcript.done":
    case "response.audio_transcript.done":
      return (known satisfies ResponseAudioTranscriptDoneEvent).transcript;
    case "response.output_text.done":
    case "response.text.done":
      return (known satisfies ResponseTextDoneEvent).text;
    case "response.done":
      return (known satisfies ResponseDoneEvent).response.status ?? "";
    default:
      return (known satisfies ResponseTextDeltaEvent).delta;
  }
}
client.on("event", (event) => void describe(event));
const other: UnknownServerEvent = { type: "rate_limits.updated" };
const described = describe(other);

// the client events it sends, as the OpenAI GA wire spells them
const format: AudioFormat = { type: "audio/pcm", rate: WIRE_RATE };
const session: SessionUpdate = { type: "realtime", audio: { input: { format }, output: { format, voice: "marin" } } };
const said: InputTextPart = { type: "input_text", text: "hi" };
const answered: OutputTextPart = { type: "output_text", text: "hello" };
const items: MessageItem[] = [
  { type: "message", role: "user", content: [said] } satisfies UserMessageItem,
  { type: "message", role: "assistant", content: [answered] } satisfies AssistantMessageItem,
  { type: "message", role: "system", content: [said] } satisfies SystemMessageItem,
];
const sent: ClientEvent[] = [
  { type: "session.update", session } satisfies SessionUpdateEvent,
  { type: "input_audio_buffer.append", audio: "AAAA" } satisfies InputAudioBufferAppendEvent,
  { type: "conversation.item.create", item: items[0]! } satisfies ConversationItemCreateEvent,
  { type: "conversation.item.truncate", item_id: "i", content_index: 0, audio_end_ms: 10 } satisfies ConversationItemTruncateEvent,
  { type: "response.create" } satisfies ResponseCreateEvent,
  { type: "response.cancel" } satisfies ResponseCancelEvent,
];

// a typed emitter of one's own
type Ticks = { tick: [n: number] } & EventMap;
const ticker = new Emitter<Ticks>();
ticker.on("tick", (n) => void n.toFixed());

// --- React ----------------------------------------------------------------------------------------

export function Voice(): ReactElement {
  const audio: UseBrowserAudioReturn = useBrowserAudio({ frameMs: 20 });
  const hookOptions: UseRealtimeOptions = { channel: audio.channel, getCredential: async () => answer };
  const realtime: UseRealtimeResult = useRealtime(null, hookOptions);
  const seed: UseRealtimeReturn = realtime;
  const extras: UseRealtimeExtras = realtime;
  const [draft, setDraft] = useState("");
  return (
    <div data-status={seed.status} data-state={extras.agentState}>
      <button onClick={() => void seed.connect(answer)}>Start</button>
      <button onClick={seed.muted ? seed.unmute : seed.mute}>{seed.muted ? "Unmute" : "Mute"}</button>
      <button onClick={seed.disconnect}>End</button>
      <input value={draft} onChange={(e) => setDraft(e.target.value)} />
      <button onClick={() => seed.sendMessage(draft)}>Send</button>
      <ul>
        {extras.transcript.map((line) => (
          <li key={line.itemId}>{line.text}</li>
        ))}
      </ul>
    </div>
  );
}

export function AgentOnly(): ReactElement {
  const { status } = useRealtime({ instructions: "Be brief." });
  return <p>{status}</p>;
}

export const used = [fetched, described, normalized, code, samples, rate, heard, delays, sent, client, channel];
