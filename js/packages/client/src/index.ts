/**
 * @voicewire/client — voicewire's browser client.
 *
 *   import { RealtimeClient } from "@voicewire/client";
 *   const client = new RealtimeClient();                 // same-origin /v1/realtime
 *   const { credential } = await (await fetch("/realtime/credential", { method: "POST" })).json();
 *   await client.connect(credential);                    // asks for the microphone
 *   client.on("transcript", (lines) => render(lines));
 *
 * `RealtimeClient` speaks the OpenAI Realtime GA wire protocol, so the same client talks to a
 * voicewire server or, given an OpenAI ephemeral token and
 * `url: "wss://api.openai.com/v1/realtime?model=gpt-realtime"`, straight to OpenAI.
 * `BrowserChannel` is the audio side: microphone through an AudioWorklet that resamples from the
 * AudioContext's real rate to 24 kHz PCM16, and a playback queue that knows how much of each
 * assistant item the listener has actually heard.
 */

export { Emitter, type EventMap, type Listener } from "./emitter.js";
export { WIRE_RATE, base64ToBytes, bytesToBase64, pcm16ToFloat32 } from "./pcm.js";
export {
  BrowserChannel,
  type BrowserChannelEvents,
  type BrowserChannelOptions,
  type Interruption,
} from "./channel.js";
export {
  RealtimeError,
  checkCredential,
  fetchCredential,
  parseCredential,
  parseExpiry,
  type ClientCredential,
  type ClientCredentialJSON,
  type CredentialInput,
  type CredentialResponse,
  type ExpiryInput,
  type FetchCredentialOptions,
  type OpenAIClientSecret,
  type TokenCredential,
  type TransportStatus,
  type UrlCredential,
} from "./credential.js";
export {
  RECONNECT_DELAYS_MS,
  RealtimeClient,
  type AgentConfig,
  type AgentState,
  type RealtimeClientError,
  type RealtimeClientEvents,
  type RealtimeClientOptions,
  type TranscriptEntry,
} from "./client.js";
export type * from "./events.js";
