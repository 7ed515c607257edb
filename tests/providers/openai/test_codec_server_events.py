"""Every OpenAI GA server event type is decoded or deliberately ignored; payloads are built with
the official ``openai`` models and decode to exactly the expected neutral events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.openai_wire.support import (
    ARGUMENTS,
    AUDIO,
    AUDIO_B64,
    CALL_ID,
    FUNCTION_CALL,
    ITEM_ID,
    RESPONSE_ID,
    USER_MESSAGE,
    openai_server_types,
    server_payload,
)
from voicewire.protocol import (
    AudioInputCleared,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ItemCreated,
    ItemDeleted,
    ItemTruncated,
    MessageItem,
    ProtocolError,
    ResponseCreated,
    ResponseDone,
    ServerEvent,
    SessionCreated,
    SessionError,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    TextPart,
    ToolCall,
    ToolCallItem,
    ToolDelta,
    ToolResultItem,
    ToolStart,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    TranscriptOutputDelta,
    Usage,
)
from voicewire.providers.openai import codec as openai_codec
from voicewire.providers.openai_protocol.codec import IGNORED_SERVER_TYPES

USAGE = Usage(
    input_tokens=1250,
    output_tokens=320,
    total_tokens=1570,
    input_audio_tokens=900,
    input_text_tokens=350,
    input_cached_tokens=640,
    output_audio_tokens=250,
    output_text_tokens=70,
)

EXPECTED: dict[str, list[ServerEvent]] = {
    "session.created": [SessionCreated("sess_C9x")],
    "session.updated": [SessionUpdated("sess_C9x")],
    "error": [
        SessionError(
            "invalid_value",
            "Invalid value: 'loud'. Supported values are: 'alloy', 'marin'.",
            event_id="client_evt_7",
            param="session.audio.output.voice",
        )
    ],
    "conversation.item.created": [
        ItemCreated(
            MessageItem(
                "item_user1",
                "user",
                (TextPart("What's the weather?"), AudioPart("in Paris", AUDIO)),
                "completed",
            ),
            previous_item_id="item_prev",
        )
    ],
    "conversation.item.added": [
        ItemCreated(
            MessageItem(
                ITEM_ID,
                "assistant",
                (AudioPart("It is sunny"), TextPart(" and 21 degrees.")),
                "in_progress",
            ),
            previous_item_id="item_user1",
        )
    ],
    "conversation.item.deleted": [ItemDeleted(ITEM_ID)],
    "conversation.item.truncated": [ItemTruncated(ITEM_ID, 1500, 0)],
    "input_audio_buffer.committed": [AudioInputCommitted("item_user1", "item_prev")],
    "input_audio_buffer.cleared": [AudioInputCleared()],
    "input_audio_buffer.speech_started": [SpeechStarted("item_user1", 1020)],
    "input_audio_buffer.speech_stopped": [SpeechStopped("item_user1", 2980)],
    "conversation.item.input_audio_transcription.delta": [
        TranscriptInputDelta("item_user1", "What's the")
    ],
    "conversation.item.input_audio_transcription.completed": [
        TranscriptInput("item_user1", "What's the weather in Paris?")
    ],
    "conversation.item.input_audio_transcription.failed": [
        SessionError(
            "input_transcription_failed",
            "input audio transcription failed for item item_user1: "
            "The audio could not be transcribed.",
        )
    ],
    "response.created": [ResponseCreated(RESPONSE_ID)],
    "response.done": [ResponseDone(RESPONSE_ID, "completed", USAGE, None)],
    "response.output_audio.delta": [AudioOutputDelta(RESPONSE_ID, ITEM_ID, AUDIO_B64, 0)],
    "response.output_audio.done": [AudioOutputDone(RESPONSE_ID, ITEM_ID)],
    "response.output_audio_transcript.delta": [
        TranscriptOutputDelta(RESPONSE_ID, ITEM_ID, "It is")
    ],
    "response.output_audio_transcript.done": [
        TranscriptOutput(RESPONSE_ID, ITEM_ID, "It is sunny.")
    ],
    "response.output_text.delta": [TextOutputDelta(RESPONSE_ID, ITEM_ID, "Sunny")],
    "response.output_text.done": [TextOutput(RESPONSE_ID, ITEM_ID, "Sunny and mild.")],
    "response.output_item.added": [ToolStart(CALL_ID, "get_weather", "item_fc1", RESPONSE_ID)],
    "response.function_call_arguments.delta": [ToolDelta(CALL_ID, '{"city": ')],
    "response.function_call_arguments.done": [
        ToolCall(CALL_ID, "get_weather", ARGUMENTS, "item_fc1", RESPONSE_ID)
    ],
}


def test_spec_is_covered_exactly_by_decoded_and_ignored_types() -> None:
    spec = set(openai_server_types())
    codec = openai_codec.CODEC
    assert not codec.handled_types & codec.ignored_types
    assert codec.handled_types | codec.ignored_types == spec
    assert codec.ignored_types == IGNORED_SERVER_TYPES == openai_codec.IGNORED_SERVER_TYPES
    assert set(EXPECTED) == codec.handled_types


@pytest.mark.parametrize("type_", openai_server_types())
def test_every_spec_type_decodes_from_an_official_payload(type_: str) -> None:
    payload = server_payload(type_)
    events = openai_codec.decode_server(payload)
    assert openai_codec.is_known(type_)
    if type_ in IGNORED_SERVER_TYPES:
        assert events == []
    else:
        assert events == EXPECTED[type_]


def test_audio_delta_keeps_base64_and_decodes_lazily() -> None:
    payload = server_payload("response.output_audio.delta")
    (event,) = openai_codec.decode_server(payload)
    assert isinstance(event, AudioOutputDelta)
    assert event.audio_b64 is payload["delta"]  # passed through, not decoded or copied
    assert event.audio == AUDIO
    assert type(event) is AudioOutputDelta
    assert event == AudioOutputDelta(RESPONSE_ID, ITEM_ID, AUDIO_B64, 0)


def test_fast_and_careful_paths_agree() -> None:
    """Null ids skip the fast construction; the result is the same kind of event."""
    payload = {"type": "response.output_audio.delta", "delta": AUDIO_B64}
    assert openai_codec.decode_server(payload) == [AudioOutputDelta(None, None, AUDIO_B64, 0)]
    payload = {"type": "response.output_text.delta", "delta": "x", "item_id": None}
    assert openai_codec.decode_server(payload) == [TextOutputDelta(None, None, "x")]
    payload = {"type": "conversation.item.input_audio_transcription.delta", "item_id": "i"}
    assert openai_codec.decode_server(payload) == []  # no text, nothing to report
    payload = {"type": "conversation.item.input_audio_transcription.delta", "item_id": "i"}
    assert openai_codec.decode_server({**payload, "delta": ""}) == []
    assert openai_codec.decode_server({**payload, "delta": "hi"}) == [
        TranscriptInputDelta("i", "hi")
    ]

    class Text(str):
        pass

    payload = {
        "type": "response.output_audio_transcript.delta",
        "response_id": Text(RESPONSE_ID),
        "item_id": ITEM_ID,
        "delta": "x",
    }
    assert openai_codec.decode_server(payload) == [TranscriptOutputDelta(RESPONSE_ID, ITEM_ID, "x")]
    bad: dict[str, Any] = {"type": "response.output_audio.delta", "delta": AUDIO_B64}
    with pytest.raises(ProtocolError, match="content_index"):
        openai_codec.decode_server({**bad, "content_index": True})  # a bool is not an index


# --- variants ----------------------------------------------------------------------------------


def _response_done(**response: Any) -> dict[str, Any]:
    return server_payload("response.done", response={"id": RESPONSE_ID, **response})


def test_response_done_variants() -> None:
    decode = openai_codec.decode_server
    cancelled = _response_done(
        status="cancelled", status_details={"type": "cancelled", "reason": "turn_detected"}
    )
    assert decode(cancelled) == [ResponseDone(RESPONSE_ID, "cancelled", None, "turn_detected")]
    incomplete = _response_done(
        status="incomplete",
        status_details={"type": "incomplete", "reason": "max_output_tokens"},
        usage={"total_tokens": 10, "output_tokens": 10},
    )
    assert decode(incomplete) == [
        ResponseDone(
            RESPONSE_ID,
            "incomplete",
            Usage(output_tokens=10, total_tokens=10),
            "max_output_tokens",
        )
    ]
    failed = _response_done(
        status="failed",
        status_details={
            "type": "failed",
            "error": {"type": "server_error", "code": "rate_limited", "message": "Slow down."},
        },
    )
    assert decode(failed) == [
        SessionError("rate_limited", "Slow down."),
        ResponseDone(RESPONSE_ID, "failed", None, "rate_limited"),
    ]
    assert decode(_response_done()) == [ResponseDone(RESPONSE_ID, "completed", None, None)]


def test_item_variants() -> None:
    decode = openai_codec.decode_server

    def added(item: dict[str, Any]) -> list[ServerEvent]:
        return decode(server_payload("conversation.item.added", item=item, previous_item_id=None))

    assert added({**FUNCTION_CALL, "arguments": ARGUMENTS, "status": "completed"}) == [
        ItemCreated(ToolCallItem("item_fc1", CALL_ID, "get_weather", ARGUMENTS, "completed"))
    ]
    output = {"type": "function_call_output", "id": "item_fo1", "call_id": CALL_ID, "output": "{}"}
    assert added(output) == [ItemCreated(ToolResultItem("item_fo1", CALL_ID, "{}"))]
    system = {
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "Be kind."}],
    }
    assert added(system) == [ItemCreated(MessageItem(None, "system", (TextPart("Be kind."),)))]
    image = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}],
    }
    assert added(image) == [ItemCreated(MessageItem(None, "user", ()))]
    mcp = {
        "type": "mcp_call",
        "id": "item_mcp",
        "server_label": "docs",
        "name": "search",
        "arguments": "{}",
    }
    assert added(mcp) == []  # no neutral form
    created = decode(server_payload("conversation.item.created", item=USER_MESSAGE))
    assert isinstance(created[0], ItemCreated)
    assert isinstance(created[0].item, MessageItem)
    assert created[0].item.text == "What's the weather?in Paris"


def test_output_item_added_for_a_message_is_not_a_tool_start() -> None:
    message = {"type": "message", "role": "assistant", "content": [], "id": ITEM_ID}
    payload = server_payload("response.output_item.added", item=message)
    assert openai_codec.decode_server(payload) == []


def test_a_tool_call_is_reported_exactly_once() -> None:
    """A function call shows up in five server events; only one of them is ``tool.call``."""
    done_item = {**FUNCTION_CALL, "status": "completed", "arguments": ARGUMENTS}
    stream = [
        server_payload("response.output_item.added"),
        server_payload("conversation.item.added", item=FUNCTION_CALL),
        server_payload("response.function_call_arguments.delta"),
        server_payload("response.function_call_arguments.done"),
        server_payload("response.output_item.done"),
        server_payload("conversation.item.done", item=done_item),
        _response_done(status="completed", output=[done_item]),
    ]
    events = [event for message in stream for event in openai_codec.decode_server(message)]
    calls = [event for event in events if isinstance(event, ToolCall)]
    assert calls == [ToolCall(CALL_ID, "get_weather", ARGUMENTS, "item_fc1", RESPONSE_ID)]
    assert [type(event) for event in events if isinstance(event, ToolStart | ToolDelta)] == [
        ToolStart,
        ToolDelta,
    ]


def test_error_without_code_falls_back_to_its_type() -> None:
    payload = server_payload("error", error={"type": "server_error", "message": "Oops"})
    assert openai_codec.decode_server(payload) == [SessionError("server_error", "Oops")]


def test_beta_and_xai_names_are_unknown_to_openai() -> None:
    for type_ in ("response.text.delta", "response.audio.delta", "future.event"):
        assert not openai_codec.is_known(type_)
        assert openai_codec.decode_server({"type": type_, "delta": "x"}) == []


def test_decode_server_text() -> None:
    import json

    payload = server_payload("response.output_audio.delta")
    assert openai_codec.decode_server_text(json.dumps(payload)) == EXPECTED[payload["type"]]
    assert (
        openai_codec.decode_server_text(json.dumps(payload).encode()) == EXPECTED[payload["type"]]
    )
