"""The ElevenLabs codec reading every server message of the AsyncAPI into neutral events: the
turns it synthesizes, the interruption filter, corrections, formats, pings, errors, bad input."""

from __future__ import annotations

import json

import pytest

from voicewire.protocol import (
    AudioFormat,
    AudioOutputDelta,
    ItemCreated,
    MessageItem,
    ProtocolError,
    ResponseDone,
    ResponseInterrupted,
    SessionConfig,
    SessionCreated,
    SessionError,
    TextOutput,
    ToolCall,
    ToolCallItem,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    TranscriptOutputDelta,
    Usage,
)
from voicewire.providers.codec_connection import Reply
from voicewire.providers.elevenlabs import IGNORED_SERVER_TYPES, ElevenLabsCodec
from voicewire.providers.elevenlabs.turns import END_AFTER_S, END_AFTER_TOOL_S, RELEASE_AFTER_S
from voicewire.testing.elevenlabs_validation import (
    server_message_types,
    validate_elevenlabs_client,
)

from .support import (
    agent_response,
    audio,
    correction,
    decode,
    error,
    events,
    interruption,
    kinds,
    metadata,
    ping,
    response_part,
    tentative,
    tool_call,
    user_transcript,
)


def opened(config: SessionConfig | None = None, **formats: str) -> ElevenLabsCodec:
    codec = ElevenLabsCodec(config)
    events(codec, metadata(**formats))
    return codec


def test_metadata_opens_the_session_with_the_conversation_id() -> None:
    codec = ElevenLabsCodec()
    decoded = events(
        codec, metadata("conv_42", output_format="pcm_44100", input_format="ulaw_8000")
    )
    assert kinds(decoded) == ["session.created", "session.updated"]
    assert isinstance(decoded[0], SessionCreated) and decoded[0].session_id == "conv_42"
    assert codec.conversation_id == "conv_42"
    assert codec.bridge.wire_output == AudioFormat.pcm16(44100)
    assert codec.bridge.wire_input == AudioFormat.pcmu()


def test_ping_is_answered_with_a_pong_of_the_same_id_that_the_spec_accepts() -> None:
    codec = opened()
    [reply] = decode(codec, ping(17, ping_ms=42))
    assert isinstance(reply, Reply)
    assert reply.message == {"type": "pong", "event_id": 17}
    assert validate_elevenlabs_client(reply.message) == []


def test_a_spoken_answer_then_the_users_turn() -> None:
    codec = opened()
    decoded = events(
        codec,
        agent_response("Hello there.", 1),
        audio(1),
        audio(1),
        tentative("How", 2),
        tentative("How are", 2),
        user_transcript("How are you?", 2),
    )
    assert kinds(decoded) == [
        "response.created",
        "item.created",
        "transcript.output.delta",
        "transcript.output",
        "audio.output.delta",
        "audio.output.delta",
        "item.created",
        "transcript.input.delta",
        "transcript.input.delta",
        "audio.output.done",
        "response.done",
        "audio.input.committed",
        "transcript.input",
    ]
    response_id = decoded[0].response_id  # type: ignore[union-attr]
    assistant = decoded[1]
    assert isinstance(assistant, ItemCreated) and isinstance(assistant.item, MessageItem)
    assert assistant.item.role == "assistant" and assistant.item.status == "in_progress"
    said = [e for e in decoded if isinstance(e, TranscriptOutput)]
    assert [(e.response_id, e.item_id, e.text) for e in said] == [
        (response_id, assistant.item.id, "Hello there.")
    ]
    assert all(e.item_id == assistant.item.id for e in decoded if isinstance(e, AudioOutputDelta))
    user = decoded[6]
    assert isinstance(user, ItemCreated) and user.item.role == "user"  # type: ignore[union-attr]
    assert user.previous_item_id == assistant.item.id
    deltas = [e.delta for e in decoded if isinstance(e, TranscriptInputDelta)]
    assert deltas == ["How", " are"]
    [heard] = [e for e in decoded if isinstance(e, TranscriptInput)]
    assert (heard.item_id, heard.text) == (user.item.id, "How are you?")
    [done] = [e for e in decoded if isinstance(e, ResponseDone)]
    assert (done.response_id, done.status) == (response_id, "completed")


def test_a_final_transcript_alone_creates_the_user_item_before_its_words() -> None:
    codec = opened()
    decoded = events(codec, user_transcript("Hi.", 1))
    assert kinds(decoded) == ["audio.input.committed", "item.created", "transcript.input"]
    created = decoded[1]
    assert isinstance(created, ItemCreated) and created.item.text == "Hi."  # type: ignore[union-attr]


def test_a_rewritten_tentative_transcript_stops_the_deltas() -> None:
    codec = opened()
    decoded = events(codec, tentative("I want", 1), tentative("I wanted", 1), tentative("Ice", 1))
    assert [e.delta for e in decoded if isinstance(e, TranscriptInputDelta)] == ["I want", "ed"]
    final = events(codec, user_transcript("Ice cream.", 1))
    assert kinds(final) == ["audio.input.committed", "transcript.input"]


def test_ids_are_unique_within_and_across_connections() -> None:
    first, second = opened(), opened()
    ids = []
    for codec in (first, second):
        decoded = events(codec, agent_response("A", 1), user_transcript("B", 2), audio(2))
        ids += [e.item.id for e in decoded if isinstance(e, ItemCreated)]
        ids += [e.response_id for e in decoded if isinstance(e, ResponseDone)]
    assert len(ids) == len(set(ids)) == 8  # per connection: 3 items and 1 closed response


def test_audio_strictly_older_than_the_interruption_is_dropped_and_equal_ids_are_kept() -> None:
    codec = opened()
    before = events(codec, audio(3))
    cut = events(codec, interruption(4))
    assert events(codec, audio(3)) == []  # older than the interruption: never heard
    reply = events(codec, audio(4))  # the answer to the interrupting words: kept (not <=)
    later = events(codec, audio(5))
    assert kinds(before) == ["response.created", "item.created", "audio.output.delta"]
    assert kinds(cut) == [
        "speech.started",
        "response.interrupted",
        "audio.output.done",
        "response.done",
    ]
    assert kinds(reply) == ["response.created", "item.created", "audio.output.delta"]
    assert kinds(later)[:2] == ["audio.output.done", "response.done"]
    assert kinds(later)[2:] == ["response.created", "item.created", "audio.output.delta"]


def test_text_of_an_answer_older_than_the_interruption_opens_nothing() -> None:
    codec = opened()
    events(codec, audio(3), interruption(4))
    assert events(codec, agent_response("the rest of the cut-off answer", 3)) == []
    assert events(codec, response_part("delta", "more", 3)) == []
    reply = events(codec, agent_response("Yes?", 4))
    assert kinds(reply)[0] == "response.created"


def test_an_interruption_reports_how_much_audio_was_sent_and_cancels_the_response() -> None:
    codec = opened(output_format="pcm_24000")
    start = events(codec, agent_response("A long answer.", 1), audio(1, b"\x00\x00" * 4800))
    response_id = start[0].response_id  # type: ignore[union-attr]
    item_id = start[1].item.id  # type: ignore[union-attr]
    cut = events(codec, interruption(2))
    [interrupted] = [e for e in cut if isinstance(e, ResponseInterrupted)]
    assert (interrupted.response_id, interrupted.item_id) == (response_id, item_id)
    assert interrupted.audio_end_ms == 200  # 4800 samples at 24 kHz
    [done] = [e for e in cut if isinstance(e, ResponseDone)]
    assert (done.status, done.reason) == ("cancelled", "interrupted")
    user = events(codec, user_transcript("Stop.", 2))
    assert kinds(user) == [
        "speech.stopped",
        "audio.input.committed",
        "item.created",
        "transcript.input",
    ]
    assert user[0].item_id == cut[0].item_id == user[2].item.id  # type: ignore[union-attr]


def test_an_interruption_with_nothing_open_only_starts_speech() -> None:
    codec = opened()
    assert kinds(events(codec, interruption(1))) == ["speech.started"]


def test_a_correction_cuts_the_items_transcript_to_what_was_heard() -> None:
    codec = opened()
    start = events(codec, agent_response("One. Two. Three.", 1), audio(1))
    item_id = start[1].item.id  # type: ignore[union-attr]
    events(codec, interruption(2))
    [fixed] = events(codec, correction("One. Two. Three.", "One.", 2))
    assert isinstance(fixed, TranscriptOutput)
    assert (fixed.item_id, fixed.text) == (item_id, "One.")


def test_a_correction_of_nothing_said_is_ignored() -> None:
    assert events(opened(), correction("a", "b", 1)) == []


def test_streamed_parts_are_deltas_and_the_agent_response_completes_them() -> None:
    codec = opened()
    decoded = events(
        codec,
        response_part("start", "", 1),
        response_part("delta", "Hel", 1),
        response_part("delta", "lo.", 1),
        response_part("stop", "", 1),
        agent_response("Hello.", 1),
    )
    assert kinds(decoded) == [
        "response.created",
        "item.created",
        "transcript.output.delta",
        "transcript.output.delta",
        "transcript.output",
    ]
    assert [e.delta for e in decoded if isinstance(e, TranscriptOutputDelta)] == ["Hel", "lo."]


def test_streamed_parts_without_an_agent_response_complete_at_the_turns_end() -> None:
    codec = opened()
    events(codec, response_part("delta", "Hi ", 1), response_part("delta", "you.", 1))
    ended = events(codec, user_transcript("Hey.", 2))
    [said] = [e for e in ended if isinstance(e, TranscriptOutput)]
    assert said.text == "Hi you."


def test_a_second_generation_in_one_turn_is_a_new_item() -> None:
    codec = opened()
    decoded = events(
        codec,
        agent_response("Let me check.", 1),
        audio(1),
        tool_call("get_weather", "call_1", {"city": "Paris"}, 1),
        agent_response("It is sunny.", 1),
        audio(1),
    )
    items = [e.item for e in decoded if isinstance(e, ItemCreated)]
    assert [type(i).__name__ for i in items] == ["MessageItem", "ToolCallItem", "MessageItem"]
    assert len({i.id for i in items}) == 3
    assert kinds(decoded).count("response.created") == 1
    [call] = [e for e in decoded if isinstance(e, ToolCall)]
    assert (call.call_id, call.name, call.arguments) == (
        "call_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert call.item_id == items[1].id and call.response_id == decoded[0].response_id  # type: ignore[union-attr]
    tool_item = items[1]
    assert isinstance(tool_item, ToolCallItem) and tool_item.call_id == "call_1"
    audio_items = {e.item_id for e in decoded if isinstance(e, AudioOutputDelta)}
    assert audio_items == {items[0].id, items[2].id}


def test_context_usage_becomes_the_usage_of_the_next_response() -> None:
    codec = opened()
    usage_message = {
        "type": "context_usage",
        "context_usage_event": {
            "event_id": 1,
            "model": "gemini-2.0-flash",
            "context_tokens": 1234,
            "context_limit_tokens": 100000,
        },
    }
    events(codec, agent_response("A", 1), usage_message)
    [done] = [e for e in events(codec, user_transcript("B", 2)) if isinstance(e, ResponseDone)]
    assert done.usage == Usage(input_tokens=1234, total_tokens=1234)


def test_text_only_answers_are_text_output() -> None:
    codec = opened(SessionConfig(modalities=["text"]))
    decoded = events(codec, agent_response("Written.", 1))
    assert kinds(decoded) == [
        "response.created",
        "item.created",
        "text.output.delta",
        "text.output",
    ]
    assert isinstance(decoded[-1], TextOutput) and decoded[-1].text == "Written."


def test_the_same_words_spoken_long_after_they_were_typed_are_the_users_turn() -> None:
    from voicewire.protocol import ItemCreate, user_text
    from voicewire.providers.elevenlabs.turns import ECHO_WITHIN_S

    clock = Clock()
    codec = ElevenLabsCodec(clock=clock)
    events(codec, metadata())
    codec.written(ItemCreate(user_text("Yes.", "item_typed")))  # no echo ever came
    clock.now += ECHO_WITHIN_S + 60
    spoken = events(codec, user_transcript("Yes.", 4))
    assert kinds(spoken) == ["audio.input.committed", "item.created", "transcript.input"]


def test_an_echoed_typed_message_makes_no_second_item() -> None:
    from voicewire.protocol import ItemCreate, user_text

    codec = opened()
    acks = codec.written(ItemCreate(user_text("Hello?", "item_typed")))
    assert [e.item.id for e in acks if isinstance(e, ItemCreated)] == ["item_typed"]
    assert kinds(events(codec, user_transcript("Hello?", 1))) == []
    assert kinds(events(codec, user_transcript("Hello?", 2))) == [  # said again: a new turn
        "audio.input.committed",
        "item.created",
        "transcript.input",
    ]


def test_the_error_event_is_a_session_error_and_names_the_close() -> None:
    codec = opened()
    [failed] = events(
        codec, error(1008, "Override for field 'prompt' is not allowed", "override_error")
    )
    assert isinstance(failed, SessionError) and not failed.fatal
    assert failed.code == "override_error"
    assert "Override for field 'prompt' is not allowed" in failed.message
    closed = codec.describe_close(1008, "")
    assert isinstance(closed, SessionError) and closed.fatal  # the same input would fail again
    assert closed.code == "override_error"
    assert "code 1008" in closed.message and "override_error" in closed.message


@pytest.mark.parametrize(
    "error_type", ["safety_violation", "max_duration_exceeded", "transport_receive_timeout"]
)
def test_a_conversation_elevenlabs_ended_on_purpose_is_not_retried(error_type: str) -> None:
    codec = opened()
    events(codec, error(1002, "the conversation ended", error_type))
    closed = codec.describe_close(1002, "")
    assert isinstance(closed, SessionError) and closed.fatal and closed.code == error_type
    other = opened()
    events(other, error(1002, "LLM response took over 20 seconds", "llm_timeout"))
    assert isinstance(other.describe_close(1002, ""), str)  # a new conversation may go better


def test_close_codes_without_an_error_event_say_what_they_mean() -> None:
    codec = ElevenLabsCodec(SessionConfig(instructions="Be brief."))
    ended = codec.describe_close(1000, "")
    assert isinstance(ended, SessionError) and ended.fatal
    assert (ended.code, "ended" in ended.message) == ("conversation_ended", True)
    refused = codec.describe_close(1008, "policy")
    assert isinstance(refused, SessionError) and refused.code == "conversation_refused"
    assert "code 1008: policy" in refused.message and "agent.prompt.prompt" in refused.message
    # Worth a new conversation: words for connection_lost, which a session retries.
    assert "internal error" in str(codec.describe_close(1011, ""))
    assert isinstance(codec.describe_close(1002, "llm timeout"), str)
    assert codec.describe_close(None, "") is None


def test_a_guardrail_is_reported() -> None:
    [reported] = events(opened(), {"type": "guardrail_triggered"})
    assert isinstance(reported, SessionError) and reported.code == "guardrail_triggered"


def test_every_server_type_of_the_spec_is_decoded_or_deliberately_ignored() -> None:
    codec = ElevenLabsCodec()
    known = codec.handled_types | set(IGNORED_SERVER_TYPES)
    assert server_message_types() <= known, server_message_types() - known


IGNORED_SAMPLES = [
    {"type": "vad_score", "vad_score_event": {"vad_score": 0.9}},
    {
        "type": "internal_turn_probability",
        "turn_probability_internal_event": {"turn_probability": 0.5},
    },
    {
        "type": "internal_tentative_agent_response",
        "tentative_agent_response_internal_event": {"tentative_agent_response": "Hm"},
    },
    {
        "type": "agent_tool_response",
        "agent_tool_response": {
            "tool_name": "end_call",
            "tool_call_id": "t1",
            "tool_type": "system",
            "is_error": False,
            "is_called": True,
            "event_id": 3,
        },
    },
    {"type": "agent_typing", "agent_typing_event": {"is_typing": True}},
    {"type": "asr_initiation_metadata", "asr_initiation_metadata_event": {}},
    {"type": "brand_new_event", "whatever": 1},
]


@pytest.mark.parametrize("message", IGNORED_SAMPLES, ids=lambda m: m["type"])
def test_informational_and_unknown_types_decode_to_nothing(message: dict[str, object]) -> None:
    codec = opened()
    if message["type"] != "brand_new_event":
        assert decode(codec, message) == []
    assert codec.decode_server(message) == []


_META = "conversation_initiation_metadata_event"
MALFORMED: list[tuple[object, str]] = [
    ("{not json", "malformed JSON"),
    ([1, 2], "must be a JSON object, got list"),
    ({"audio_event": {}}, "needs a string 'type', got nothing"),
    ({"type": 7}, "needs a string 'type', got int 7"),
    (
        {"type": "audio", "audio_event": {"event_id": 1}},
        "'audio_event.audio_base_64' must be a string",
    ),
    (
        {"type": "audio", "audio_event": {"audio_base_64": "", "event_id": "1"}},
        "'audio_event.event_id' must be an integer",
    ),
    ({"type": "ping"}, "'ping_event' must be an object, got nothing"),
    (
        {"type": "interruption", "interruption_event": {"event_id": None}},
        "'interruption_event.event_id' must be an integer, got null",
    ),
    (
        {
            "type": "agent_chat_response_part",
            "text_response_part": {"text": "", "type": "middle", "event_id": 1},
        },
        "'text_response_part.type' must be 'start', 'delta' or 'stop', got 'middle'",
    ),
    (
        tool_call("f", "c", [1], 1),  # type: ignore[arg-type]
        "'client_tool_call.parameters' must be an object or null, got an array",
    ),
    (
        {
            "type": "conversation_initiation_metadata",
            _META: {**metadata()[_META], "agent_output_audio_format": "mp3_44100"},
        },
        "agent_output_audio_format must be a format such as 'pcm_16000' or 'ulaw_8000', "
        "got 'mp3_44100'",
    ),
]


@pytest.mark.parametrize(("message", "words"), MALFORMED)
def test_malformed_messages_raise_a_precise_protocol_error(message: object, words: str) -> None:
    codec = opened()
    text = message if isinstance(message, str) else json.dumps(message)
    with pytest.raises(ProtocolError) as raised:
        codec.decode_server_text(text)
    assert words in raised.value.message
    assert events(codec, audio(1))  # the codec goes on


def test_bad_base64_audio_is_a_protocol_error_when_it_must_be_converted() -> None:
    codec = opened(output_format="pcm_16000")  # the app plays 24 kHz: the codec decodes
    with pytest.raises(ProtocolError, match=r"audio_event\.audio_base_64' is not valid base64"):
        codec.decode_server_text(
            '{"type": "audio", "audio_event": {"audio_base_64": "!!!", "event_id": 1}}'
        )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_converted_audio_held_by_the_resampler_is_released_when_the_agent_pauses() -> None:
    clock = Clock()
    codec = ElevenLabsCodec(clock=clock)  # the app plays 24 kHz
    events(codec, metadata(output_format="pcm_44100"))
    assert codec.idle_after() is None
    spoken = events(codec, audio(1, b"\x10\x00" * 4410))  # 100 ms
    assert codec.idle_after() == RELEASE_AFTER_S
    assert codec.idle() == []  # not quiet yet
    heard = sum(len(e.audio) for e in spoken if isinstance(e, AudioOutputDelta))
    clock.now += RELEASE_AFTER_S
    [tail] = codec.idle()
    assert isinstance(tail, AudioOutputDelta) and tail.item_id == spoken[1].item.id  # type: ignore[union-attr]
    assert heard + len(tail.audio) == 100 * 48  # all of it, at 24 kHz
    assert codec.idle_after() == pytest.approx(END_AFTER_S - RELEASE_AFTER_S)
    more = events(codec, audio(1, b"\x10\x00" * 4410))  # it spoke on: the same item goes on
    assert kinds(more) == ["audio.output.delta"]


def test_a_quiet_agent_has_finished_its_response() -> None:
    clock = Clock()
    codec = ElevenLabsCodec(clock=clock)
    events(codec, metadata(output_format="pcm_24000"))  # the app's format: nothing held
    start = events(codec, agent_response("Done.", 1), audio(1))
    assert codec.idle_after() == END_AFTER_S
    clock.now += END_AFTER_S - 0.01
    assert codec.idle() == []
    clock.now += 0.01
    ended = codec.idle()
    assert kinds(ended) == ["audio.output.done", "response.done"]
    assert ended[1].response_id == start[0].response_id  # type: ignore[union-attr]
    assert codec.idle_after() is None
    again = events(codec, audio(1))  # more of the same turn: a new response
    assert kinds(again) == ["response.created", "item.created", "audio.output.delta"]


def test_a_client_tool_call_waiting_for_its_result_keeps_the_response_open() -> None:
    from voicewire.protocol import ToolResult

    clock = Clock()
    codec = ElevenLabsCodec(clock=clock)
    events(codec, metadata(), tool_call("lookup", "call_7", {}, 1))
    clock.now += 60
    assert codec.idle_after() is None and codec.idle() == []
    codec.written(ToolResult("call_7", "found", "lookup"))
    # The agent's LLM reads the result before it speaks on: a second of quiet is not the end.
    assert codec.idle_after() == END_AFTER_TOOL_S
    clock.now += END_AFTER_S
    assert codec.idle() == []
    answer = events(codec, agent_response("Found it.", 1), audio(1))
    assert "response.created" not in kinds(answer)  # the same response goes on
    assert codec.idle_after() == END_AFTER_S  # once it speaks, the usual quiet ends it
    clock.now += END_AFTER_S
    assert kinds(codec.idle())[-1] == "response.done"


def test_a_pause_while_the_listener_still_hears_the_answer_is_not_its_end() -> None:
    clock = Clock()
    codec = ElevenLabsCodec(clock=clock)
    events(codec, metadata(output_format="pcm_24000"))
    start = events(codec, audio(1, b"\x01\x00" * 24000 * 3))  # 3 s of audio, at once
    assert codec.idle_after() == pytest.approx(3.0)  # played out 3 s from now
    clock.now += 2.0  # arrival paused (the LLM is slow), the listener hears the answer
    assert codec.idle() == []
    more = events(codec, audio(1))
    assert kinds(more) == ["audio.output.delta"]  # still the same response
    clock.now += 1.01
    ended = codec.idle()
    assert kinds(ended) == ["audio.output.done", "response.done"]
    assert ended[1].response_id == start[0].response_id  # type: ignore[union-attr]


def test_an_error_that_quotes_a_secret_is_masked() -> None:
    codec = opened()
    message = error(1008, "bad signed url wss://x/v1?conversation_signature=sig_LEAK123&a=1")
    [failed] = events(codec, message)
    closed = codec.describe_close(1008, "xi-api-key: xi_LEAK456")
    assert isinstance(failed, SessionError) and isinstance(closed, SessionError)
    said = failed.message + closed.message
    assert "sig_LEAK123" not in said and "xi_LEAK456" not in said
    assert "conversation_signature=***" in said
