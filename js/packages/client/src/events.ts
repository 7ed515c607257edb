/**
 * The OpenAI Realtime GA events this client speaks: the client events it sends, and the server
 * events it reads (other server events reach `client.on("event")` as {@link UnknownServerEvent}).
 *
 * Fields the client does not read are left out; every type here is checked (test-types/) against
 * the official `openai` package's own GA types, so these are the wire's names, not our guesses.
 */

// --- shared pieces ------------------------------------------------------------------------------

export interface InputTextPart {
  type: "input_text";
  text: string;
}

export interface OutputTextPart {
  type: "output_text";
  text: string;
}

export interface UserMessageItem {
  id?: string;
  type: "message";
  role: "user";
  content: InputTextPart[];
}

export interface AssistantMessageItem {
  id?: string;
  type: "message";
  role: "assistant";
  content: OutputTextPart[];
}

export interface SystemMessageItem {
  id?: string;
  type: "message";
  role: "system";
  content: InputTextPart[];
}

/** A text message item, as this client creates them (the user's words, or a replayed turn). */
export type MessageItem = UserMessageItem | AssistantMessageItem | SystemMessageItem;

/** An audio format: 24 kHz PCM16 is what this client captures and plays. */
export interface AudioFormat {
  type: "audio/pcm";
  rate: 24000;
}

/**
 * What `session.update` carries: a GA `realtime` session. The client sets the audio formats, and
 * the agent's instructions and voice; `options.session` is deep-merged over it as given.
 */
export interface SessionUpdate {
  type: "realtime";
  instructions?: string;
  audio?: {
    input?: { format?: AudioFormat };
    output?: { format?: AudioFormat; voice?: string };
  };
}

// --- client events (sent) -----------------------------------------------------------------------

export interface SessionUpdateEvent {
  type: "session.update";
  session: SessionUpdate;
}

export interface InputAudioBufferAppendEvent {
  type: "input_audio_buffer.append";
  /** base64 of 24 kHz mono PCM16, little-endian */
  audio: string;
}

export interface ConversationItemCreateEvent {
  type: "conversation.item.create";
  item: MessageItem;
}

export interface ConversationItemTruncateEvent {
  type: "conversation.item.truncate";
  item_id: string;
  content_index: number;
  audio_end_ms: number;
}

export interface ResponseCreateEvent {
  type: "response.create";
}

export interface ResponseCancelEvent {
  type: "response.cancel";
}

/** Every event this client sends. */
export type ClientEvent =
  | SessionUpdateEvent
  | InputAudioBufferAppendEvent
  | ConversationItemCreateEvent
  | ConversationItemTruncateEvent
  | ResponseCreateEvent
  | ResponseCancelEvent;

// --- server events (read) -----------------------------------------------------------------------

export interface ErrorDetail {
  message?: string;
  code?: string | null;
  type?: string;
}

export interface SessionCreatedEvent {
  type: "session.created";
  /** `id` is on the wire (`sess_...`), though the openai package types this as the request. */
  session: { id?: string; type?: "realtime" | "transcription" };
}

export interface ErrorEvent {
  type: "error";
  error: ErrorDetail;
}

export interface ConversationItemAddedEvent {
  type: "conversation.item.added" | "conversation.item.created";
  item: {
    id?: string;
    type: string;
    role?: string;
    content?: { type?: string; text?: string; transcript?: string | null }[];
  };
}

export interface SpeechStartedEvent {
  type: "input_audio_buffer.speech_started";
  item_id: string;
}

export interface SpeechStoppedEvent {
  type: "input_audio_buffer.speech_stopped";
  item_id: string;
}

export interface InputAudioBufferCommittedEvent {
  type: "input_audio_buffer.committed";
  item_id: string;
}

export interface InputTranscriptionDeltaEvent {
  type: "conversation.item.input_audio_transcription.delta";
  item_id: string;
  delta?: string;
}

export interface InputTranscriptionCompletedEvent {
  type: "conversation.item.input_audio_transcription.completed";
  item_id: string;
  transcript: string;
}

export interface ResponseCreatedEvent {
  type: "response.created";
  response: { id?: string };
}

/** Assistant audio (GA name; the beta `response.audio.delta` is read too). */
export interface ResponseAudioDeltaEvent {
  type: "response.output_audio.delta" | "response.audio.delta";
  item_id: string;
  /** base64 of 24 kHz mono PCM16 */
  delta: string;
}

export interface ResponseTextDeltaEvent {
  type:
    | "response.output_audio_transcript.delta"
    | "response.output_text.delta"
    | "response.audio_transcript.delta"
    | "response.text.delta";
  item_id: string;
  delta: string;
}

export interface ResponseAudioTranscriptDoneEvent {
  type: "response.output_audio_transcript.done" | "response.audio_transcript.done";
  item_id: string;
  transcript: string;
}

export interface ResponseTextDoneEvent {
  type: "response.output_text.done" | "response.text.done";
  item_id: string;
  text: string;
}

export interface ResponseDoneEvent {
  type: "response.done";
  response: {
    id?: string;
    status?: "completed" | "cancelled" | "failed" | "incomplete" | "in_progress";
    status_details?: { error?: { code?: string; type?: string; message?: string } } | null;
  };
}

/** The server events this client acts on. */
export type KnownServerEvent =
  | SessionCreatedEvent
  | ErrorEvent
  | ConversationItemAddedEvent
  | SpeechStartedEvent
  | SpeechStoppedEvent
  | InputAudioBufferCommittedEvent
  | InputTranscriptionDeltaEvent
  | InputTranscriptionCompletedEvent
  | ResponseCreatedEvent
  | ResponseAudioDeltaEvent
  | ResponseTextDeltaEvent
  | ResponseAudioTranscriptDoneEvent
  | ResponseTextDoneEvent
  | ResponseDoneEvent;

/** Any other server event (passed on raw, with whatever other fields the wire gave it). */
export interface UnknownServerEvent {
  type: string;
}

/** What `client.on("event", ...)` receives: every server event, raw. */
export type ServerEvent = KnownServerEvent | UnknownServerEvent;
