/**
 * The GA event types of @voicewire/client against the official `openai` package's own types:
 * every client event it sends is a valid OpenAI client event, and every OpenAI server event it
 * reads is accepted by its type for that event.
 */
import type * as vw from "@voicewire/client";
import type * as oa from "openai/resources/realtime/realtime";

import { assertType } from "./assert.js";

type Sends<Ours> = Ours extends oa.RealtimeClientEvent ? true : false;
type Reads<Theirs, Ours> = Theirs extends Ours ? true : false;

assertType<Sends<vw.SessionUpdateEvent>>();
assertType<Sends<vw.InputAudioBufferAppendEvent>>();
assertType<Sends<vw.ConversationItemCreateEvent>>();
assertType<Sends<vw.ConversationItemTruncateEvent>>();
assertType<Sends<vw.ResponseCreateEvent>>();
assertType<Sends<vw.ResponseCancelEvent>>();
assertType<Sends<vw.ClientEvent>>();

assertType<Reads<oa.SessionCreatedEvent, vw.SessionCreatedEvent>>();
assertType<Reads<oa.RealtimeErrorEvent, vw.ErrorEvent>>();
assertType<Reads<oa.ConversationItemAdded, vw.ConversationItemAddedEvent>>();
assertType<Reads<oa.ConversationItemCreatedEvent, vw.ConversationItemAddedEvent>>();
assertType<Reads<oa.InputAudioBufferSpeechStartedEvent, vw.SpeechStartedEvent>>();
assertType<Reads<oa.InputAudioBufferSpeechStoppedEvent, vw.SpeechStoppedEvent>>();
assertType<Reads<oa.InputAudioBufferCommittedEvent, vw.InputAudioBufferCommittedEvent>>();
assertType<Reads<oa.ConversationItemInputAudioTranscriptionDeltaEvent, vw.InputTranscriptionDeltaEvent>>();
assertType<Reads<oa.ConversationItemInputAudioTranscriptionCompletedEvent, vw.InputTranscriptionCompletedEvent>>();
assertType<Reads<oa.ResponseCreatedEvent, vw.ResponseCreatedEvent>>();
assertType<Reads<oa.ResponseAudioDeltaEvent, vw.ResponseAudioDeltaEvent>>();
assertType<Reads<oa.ResponseAudioTranscriptDeltaEvent, vw.ResponseTextDeltaEvent>>();
assertType<Reads<oa.ResponseTextDeltaEvent, vw.ResponseTextDeltaEvent>>();
assertType<Reads<oa.ResponseAudioTranscriptDoneEvent, vw.ResponseAudioTranscriptDoneEvent>>();
assertType<Reads<oa.ResponseTextDoneEvent, vw.ResponseTextDoneEvent>>();
assertType<Reads<oa.ResponseDoneEvent, vw.ResponseDoneEvent>>();
assertType<Reads<oa.RealtimeServerEvent, vw.ServerEvent>>();
