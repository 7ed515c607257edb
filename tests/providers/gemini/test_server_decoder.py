"""The server decoder: every field of every Gemini server message (fixtures validated against
google-genai's LiveServerMessage first), bundled fields, transcript fragments, interruptions,
tool calls and cancellations, usage, output resampling and malformed input."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from voicewire.audio import AudioConverter
from voicewire.protocol import (
    AudioFormat,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    ItemCreated,
    MessageItem,
    ProtocolError,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    SessionConfig,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    ToolCall,
    ToolCallItem,
    ToolCancelled,
    ToolResult,
    ToolResultItem,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    Usage,
)
from voicewire.providers import gemini
from voicewire.providers.gemini.client_codec import GeminiClientCodec
from voicewire.providers.gemini.server_decoder import GeminiServerDecoder
from voicewire.providers.gemini.signals import Decoded, GoAway, ResumptionUpdate, SetupComplete
from voicewire.providers.gemini.turns import RECENT_CALLS, TurnState

from .support import server_fixture

OUT_24K = SessionConfig(output_audio_format=AudioFormat.pcm16(24000))


def decoder(config: SessionConfig = OUT_24K) -> GeminiServerDecoder:
    return GeminiServerDecoder(config, TurnState())


def feed(dec: GeminiServerDecoder, *messages: dict[str, Any]) -> list[Decoded]:
    out: list[Decoded] = []
    for message in messages:
        out += dec.decode(server_fixture(message))
    return out


def kinds(events: list[Decoded]) -> list[str]:
    return [getattr(e, "kind", type(e).__name__) for e in events]


def pcm(ms: int, rate: int = 24000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * 300 * t) * 6000).astype("<i2").tobytes()


def audio(data: bytes, rate: int = 24000) -> dict[str, Any]:
    blob = {"mimeType": f"audio/pcm;rate={rate}", "data": base64.b64encode(data).decode()}
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}


def content(**fields: Any) -> dict[str, Any]:
    return {"serverContent": fields}


USAGE = {
    "promptTokenCount": 120,
    "responseTokenCount": 40,
    "totalTokenCount": 160,
    "cachedContentTokenCount": 10,
    "promptTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 100},
        {"modality": "TEXT", "tokenCount": 20},
    ],
    "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 40}],
}


def test_setup_complete_go_away_and_handles_are_signals() -> None:
    dec = decoder()
    assert feed(dec, {"setupComplete": {"sessionId": "s1"}}) == [SetupComplete("s1")]
    assert feed(dec, {"setupComplete": {}}) == [SetupComplete(None)]
    assert feed(dec, {"goAway": {"timeLeft": "2.5s"}}) == [GoAway(2.5)]
    assert feed(dec, {"sessionResumptionUpdate": {"newHandle": "h1", "resumable": True}}) == [
        ResumptionUpdate("h1", True)
    ]
    assert feed(dec, {"sessionResumptionUpdate": {"resumable": False}}) == [
        ResumptionUpdate(None, False)
    ]


def test_a_spoken_turn_yields_the_openai_shaped_sequence() -> None:
    dec = decoder()
    chunk = pcm(100)
    events = feed(
        dec,
        {"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}},
        {"voiceActivity": {"voiceActivityType": "ACTIVITY_END"}},
        content(inputTranscription={"text": " What's the"}),
        content(inputTranscription={"text": " time?"}),
        audio(chunk),
        content(outputTranscription={"text": "It is"}),
        audio(chunk),
        content(outputTranscription={"text": " noon."}),
        content(generationComplete=True),
        {"serverContent": {"turnComplete": True}, "usageMetadata": USAGE},
    )
    assert kinds(events) == [
        "speech.started",
        "speech.stopped",
        "audio.input.committed",
        "item.created",
        "transcript.input.delta",
        "transcript.input.delta",
        "response.created",
        "item.created",
        "audio.output.delta",
        "transcript.output.delta",
        "audio.output.delta",
        "transcript.output.delta",
        "audio.output.done",
        "transcript.input",
        "transcript.output",
        "response.done",
    ]
    started, stopped, committed, user = events[0], events[1], events[2], events[3]
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert isinstance(committed, AudioInputCommitted) and isinstance(user, ItemCreated)
    assert started.item_id == stopped.item_id == committed.item_id == user.item.id
    assert isinstance(user.item, MessageItem) and user.item.role == "user"
    created, assistant = events[6], events[7]
    assert isinstance(created, ResponseCreated) and isinstance(assistant, ItemCreated)
    assert assistant.previous_item_id == user.item.id
    assert isinstance(assistant.item, MessageItem) and assistant.item.role == "assistant"
    deltas = [e for e in events if isinstance(e, AudioOutputDelta)]
    assert all(
        d.item_id == assistant.item.id and d.response_id == created.response_id for d in deltas
    )
    assert b"".join(d.audio for d in deltas) == chunk * 2  # 24 kHz out: untouched
    first = events[4]
    assert isinstance(first, TranscriptInputDelta) and first.delta == "What's the"
    final_in, final_out, done = events[13], events[14], events[15]
    assert isinstance(final_in, TranscriptInput) and final_in.text == "What's the time?"
    assert isinstance(final_out, TranscriptOutput) and final_out.text == "It is noon."
    assert isinstance(done, ResponseDone) and done.status == "completed"
    assert done.usage == Usage(
        input_tokens=120,
        output_tokens=40,
        total_tokens=160,
        input_audio_tokens=100,
        input_text_tokens=20,
        input_cached_tokens=10,
        output_audio_tokens=40,
        output_text_tokens=0,
    )


def test_bundled_content_is_handled_before_turn_complete() -> None:
    """3.x sends audio, transcript and turnComplete in one message."""
    dec = decoder()
    blob = {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm(40)).decode()}
    events = feed(
        dec,
        {
            "serverContent": {
                "modelTurn": {"parts": [{"inlineData": blob}]},
                "outputTranscription": {"text": "Hi."},
                "inputTranscription": {"text": "Hello", "finished": True},
                "generationComplete": True,
                "turnComplete": True,
            },
            "usageMetadata": {"promptTokenCount": 5, "responseTokenCount": 3},
        },
    )
    assert kinds(events) == [
        "audio.input.committed",
        "item.created",
        "transcript.input.delta",
        "transcript.input",
        "response.created",
        "item.created",
        "audio.output.delta",
        "transcript.output.delta",
        "audio.output.done",
        "transcript.output",
        "response.done",
    ]
    done = events[-1]
    assert isinstance(done, ResponseDone) and done.usage is not None
    assert done.usage.total_tokens == 8  # no total given: the sum


def test_late_input_words_are_placed_before_the_answer() -> None:
    dec = decoder()
    events = feed(
        dec,
        audio(pcm(20)),
        content(inputTranscription={"text": "late words"}),
        content(turnComplete=True),
    )
    assistant, user = (e for e in events if isinstance(e, ItemCreated))  # in arrival order
    assert isinstance(user.item, MessageItem) and user.item.role == "user"
    assert isinstance(assistant.item, MessageItem) and assistant.item.role == "assistant"
    committed = next(e for e in events if isinstance(e, AudioInputCommitted))
    assert user.previous_item_id is None and committed.previous_item_id is None
    assert assistant.previous_item_id is None  # it was first when it came
    final = next(e for e in events if isinstance(e, TranscriptInput))
    assert final.text == "late words" and final.item_id == user.item.id
    # The next item follows the assistant's.
    more = feed(dec, audio(pcm(20)))
    nxt = next(e for e in more if isinstance(e, ItemCreated))
    assert nxt.previous_item_id == assistant.item.id


def test_interrupted_yields_one_interruption_and_a_cancelled_response() -> None:
    dec = decoder()
    chunk = pcm(100)
    events = feed(
        dec,
        audio(chunk),
        content(outputTranscription={"text": "Once upon"}),
        content(interrupted=True),
        content(interrupted=True),
        content(inputTranscription={"text": "stop"}),
        {"serverContent": {"turnComplete": True}, "usageMetadata": USAGE},
    )
    interruptions = [e for e in events if isinstance(e, ResponseInterrupted)]
    assert len(interruptions) == 1
    cut = interruptions[0]
    assert cut.audio_end_ms == 100 and cut.item_id is not None
    assert not any(isinstance(e, AudioOutputDone) for e in events)
    done = [e for e in events if isinstance(e, ResponseDone)]
    assert len(done) == 1 and done[0].status == "cancelled" and done[0].reason == "turn_detected"
    assert done[0].usage is not None and done[0].usage.input_tokens == 120
    # The barge-in's words do not end with the turn they cut: they go on.
    assert not any(isinstance(e, TranscriptInput) for e in events)
    more = feed(dec, content(inputTranscription={"text": " now", "finished": True}))
    final = [e for e in more if isinstance(e, TranscriptInput)]
    assert final and final[0].text == "stop now"


def test_interruption_with_nothing_under_way_is_not_reported() -> None:
    assert feed(decoder(), content(interrupted=True)) == []


def test_content_after_an_interruption_without_turn_complete_starts_a_new_response() -> None:
    dec = decoder()
    events = feed(dec, audio(pcm(20)), content(interrupted=True), audio(pcm(20)))
    assert kinds(events).count("response.created") == 2
    done = next(e for e in events if isinstance(e, ResponseDone))
    assert done.status == "cancelled"


def test_text_answers_and_thoughts() -> None:
    dec = decoder(SessionConfig(modalities=["text"]))
    events = feed(
        dec,
        {"serverContent": {"modelTurn": {"parts": [{"text": "thinking...", "thought": True}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"text": "Hello"}, {"text": " there"}]}}},
        content(generationComplete=True),
        content(turnComplete=True),
    )
    assert kinds(events) == [
        "response.created",
        "item.created",
        "text.output.delta",
        "text.output.delta",
        "text.output",
        "response.done",
    ]
    assert isinstance(events[2], TextOutputDelta) and events[2].delta == "Hello"
    assert isinstance(events[4], TextOutput) and events[4].text == "Hello there"


def test_output_audio_is_resampled_to_the_sessions_format() -> None:
    dec = decoder(SessionConfig(output_audio_format=AudioFormat.pcmu()))
    chunks = [pcm(20) for _ in range(25)]
    events = feed(dec, *(audio(c) for c in chunks), content(generationComplete=True))
    got = b"".join(e.audio for e in events if isinstance(e, AudioOutputDelta))
    reference = AudioConverter(AudioFormat.pcm16(24000), AudioFormat.pcmu())
    expected = reference.convert(b"".join(chunks)) + reference.flush()
    assert got == expected  # streamed with state, and the tail flushed at the end
    assert events[-1].kind == "audio.output.done"


def test_audio_at_another_rate_is_resampled_from_that_rate() -> None:
    dec = decoder()
    events = feed(dec, audio(pcm(500, 16000), rate=16000), content(generationComplete=True))
    got = b"".join(e.audio for e in events if isinstance(e, AudioOutputDelta))
    assert abs(len(got) - 24000) <= 48 * 20  # half a second at 24 kHz, within a frame or so


def test_tool_calls_end_their_response_and_cancellations_name_each_call() -> None:
    dec = decoder()
    events = feed(
        dec,
        {
            "toolCall": {
                "functionCalls": [
                    {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}},
                    {"id": "c2", "name": "get_time", "args": {}},
                ]
            }
        },
        {"toolCallCancellation": {"ids": ["c1", "c2"]}},
    )
    assert kinds(events) == [
        "response.created",
        "item.created",
        "tool.call",
        "item.created",
        "tool.call",
        "response.done",
        "tool.cancelled",
        "tool.cancelled",
    ]
    created = events[0]
    call, item = events[2], events[1]
    assert isinstance(call, ToolCall) and isinstance(item, ItemCreated)
    assert isinstance(created, ResponseCreated) and call.response_id == created.response_id
    assert call.call_id == "c1" and call.name == "get_weather"
    assert call.arguments == '{"city": "Paris"}' and call.item_id == item.item.id
    assert isinstance(item.item, ToolCallItem) and item.item.call_id == "c1"
    assert events[6] == ToolCancelled("c1") and events[7] == ToolCancelled("c2")
    assert dec.turns.call_names == {"c1": "get_weather", "c2": "get_time"}
    assert dec.turns.withdrawn == {"c1", "c2"}
    # What the model says after the results is a new response.
    after = feed(dec, audio(pcm(20)), content(turnComplete=True))
    assert kinds(after)[0] == "response.created"


def test_a_tool_call_after_speech_closes_the_spoken_part_first() -> None:
    dec = decoder()
    events = feed(
        dec,
        audio(pcm(20)),
        content(outputTranscription={"text": "Let me check."}),
        {"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup"}]}},
    )
    assert kinds(events)[-4:] == [
        "tool.call",
        "audio.output.done",
        "transcript.output",
        "response.done",
    ]
    assert kinds(events).count("response.created") == 1
    call = next(e for e in events if isinstance(e, ToolCall))
    assert call.arguments == "{}"


def test_manual_turn_end_puts_the_user_item_before_the_answer() -> None:
    dec = decoder()
    dec.turns.user_turn_ended = True  # the client sent activityEnd
    dec.turns.answer_pending = True
    events = feed(dec, audio(pcm(20)))
    assert kinds(events)[:4] == [
        "audio.input.committed",
        "item.created",
        "response.created",
        "item.created",
    ]
    assert not dec.turns.answer_pending and not dec.turns.user_turn_ended


def test_empty_and_unknown_content_is_ignored() -> None:
    dec = decoder()
    assert feed(dec, {"serverContent": {}}) == []
    assert feed(dec, {"serverContent": {}, "usageMetadata": {"promptTokenCount": 3}}) == []
    assert feed(dec, content(turnComplete=True)) == []
    assert dec.decode({"serverContent": {"brandNew": 1}, "somethingNew": {}}) == []
    assert feed(dec, content(outputTranscription={"text": ""})) == []


def test_link_change_ends_an_open_turn_as_incomplete() -> None:
    dec = decoder()
    feed(dec, audio(pcm(20)))
    assert dec.in_turn
    events = dec.link_changed()
    assert kinds(events) == ["transcript.output", "response.done"]
    assert isinstance(events[-1], ResponseDone) and events[-1].status == "incomplete"
    assert not dec.in_turn and dec.link_changed() == []


def test_turn_complete_reason_marks_the_response_incomplete() -> None:
    dec = decoder()
    events = feed(
        dec,
        audio(pcm(20)),
        content(turnComplete=True, turnCompleteReason="MALFORMED_FUNCTION_CALL"),
    )
    done = events[-1]
    assert isinstance(done, ResponseDone)
    assert done.status == "incomplete" and done.reason == "malformed_function_call"


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ([], "server message must be an object"),
        ({"serverContent": []}, "serverContent must be an object"),
        ({"serverContent": {"modelTurn": {"parts": {}}}}, "modelTurn.parts must be an array"),
        (
            {
                "serverContent": {
                    "modelTurn": {
                        "parts": [
                            {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "@@"}}
                        ]
                    }
                }
            },
            "invalid base64",
        ),
        (
            {
                "serverContent": {
                    "modelTurn": {
                        "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=abc", "data": ""}}]
                    }
                }
            },
            "bad rate",
        ),
        (
            {"serverContent": {"outputTranscription": {"text": 5}}},
            "outputTranscription.text must be a string",
        ),
        ({"toolCall": {"functionCalls": [{"id": "c"}]}}, r"functionCalls\[0\] has no name"),
        ({"toolCall": {"functionCalls": [{"name": "f", "args": []}]}}, r"args must be an object"),
        ({"goAway": {"timeLeft": "soon"}}, "duration"),
        ({"usageMetadata": {"promptTokenCount": -1}}, "token count"),
        ({"setupComplete": {"sessionId": 3}}, "sessionId must be a string"),
    ],
)
def test_malformed_messages_raise_a_precise_protocol_error(message: Any, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        decoder().decode(message)


def test_frames_that_are_not_json_raise() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        decoder().decode_text("{nope")
    assert decoder().decode_text(b'{"setupComplete": {}}') == [SetupComplete(None)]


def test_input_transcription_edges() -> None:
    dec = decoder()
    # "finished" with no words and no turn under way: nothing to finish.
    assert feed(dec, content(inputTranscription={"finished": True})) == []
    assert feed(dec, content(inputTranscription={"text": "  "})) == []
    events = feed(
        dec,
        content(inputTranscription={"text": " Hi"}),
        content(inputTranscription={"text": " you", "finished": True}),
    )
    deltas = [e.delta for e in events if isinstance(e, TranscriptInputDelta)]
    assert deltas == ["Hi", " you"]
    final = [e for e in events if isinstance(e, TranscriptInput)]
    assert [f.text for f in final] == ["Hi you"]


def test_a_manual_turn_without_transcription_has_no_empty_transcript() -> None:
    dec = decoder()
    dec.turns.user_turn_ended = True
    events = feed(dec, audio(pcm(20)), content(turnComplete=True))
    assert "transcript.input" not in kinds(events)
    assert kinds(events)[:2] == ["audio.input.committed", "item.created"]


def test_speech_that_pauses_and_goes_on_is_one_user_turn() -> None:
    dec = decoder()
    start = {"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}}
    end = {"voiceActivity": {"voiceActivityType": "ACTIVITY_END"}}
    events = feed(
        dec,
        start,
        end,
        content(inputTranscription={"text": "well"}),
        start,
        end,
        content(inputTranscription={"text": " yes", "finished": True}),
        content(inputTranscription={"text": "next"}),
    )
    created = [e for e in events if isinstance(e, ItemCreated)]
    speech = [e for e in events if isinstance(e, SpeechStarted | SpeechStopped)]
    assert len(speech) == 4 and {e.item_id for e in speech} == {created[0].item.id}
    final = next(e for e in events if isinstance(e, TranscriptInput))
    assert final.text == "well yes" and final.item_id == created[0].item.id
    # the words after the finished turn are a new item, never an id seen before
    assert len(created) == 2 and created[1].item.id != created[0].item.id
    assert created[1].previous_item_id == created[0].item.id


def test_speech_over_an_answer_is_a_new_turn() -> None:
    dec = decoder()
    feed(dec, content(inputTranscription={"text": "question", "finished": True}))
    events = feed(
        dec,
        audio(pcm(20)),
        {"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}},
        content(interrupted=True),
        {"voiceActivity": {"voiceActivityType": "ACTIVITY_END"}},
    )
    started = next(e for e in events if isinstance(e, SpeechStarted))
    committed = next(e for e in events if isinstance(e, AudioInputCommitted))
    assistant = next(e for e in events if isinstance(e, ItemCreated))
    assert started.item_id == committed.item_id != assistant.item.id
    assert committed.previous_item_id == assistant.item.id


def test_unknown_fields_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="voicewire.connection")
    dec = decoder()
    assert dec.decode({"serverContent": {"waitingForInput": True}, "brandNew": {}}) == []
    logged = caplog.text
    assert "brandNew" in logged and "waitingForInput" in logged


def test_what_is_kept_per_tool_call_is_bounded() -> None:
    """Hours of calls, each withdrawn (the session stops those and sends no result): the turn
    state keeps the latest ones only, and a late result for a recent one is still held back."""
    dec = decoder()
    client = GeminiClientCodec(gemini.DEFAULT_MODEL, None, dec.turns)
    for n in range(RECENT_CALLS * 3):
        call = {"id": f"c{n}", "name": "lookup", "args": {}}
        feed(dec, {"toolCall": {"functionCalls": [call]}})
        feed(dec, {"toolCallCancellation": {"ids": [f"c{n}"]}})
    assert len(dec.turns.withdrawn) == len(dec.turns.call_names) == RECENT_CALLS
    newest = f"c{RECENT_CALLS * 3 - 1}"
    assert newest in dec.turns.withdrawn and "c0" not in dec.turns.withdrawn
    late = client.encode(ToolResult(newest, "late"))
    assert late is not None and late.frames == []  # withdrawn: not sent, still acknowledged
    assert newest not in dec.turns.withdrawn and len(late.acks) == 1
    ack = late.acks[0]
    assert isinstance(ack, ItemCreated) and isinstance(ack.item, ToolResultItem)
    assert ack.item.name == "lookup"  # the name of a recent call is known
