"""ServerEventEncoder: neutral server events -> the GA sequence a real OpenAI client expects."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import assert_strict
from voicewire.protocol import (
    AudioFormat,
    AudioInputCleared,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ItemCreated,
    ItemDeleted,
    ItemTruncated,
    MessageItem,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ServerEvent,
    SessionConfig,
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
    TurnDetection,
    Usage,
    VoiceConfig,
)
from voicewire.server import ServerEventEncoder


def encode_all(encoder: ServerEventEncoder, *events: ServerEvent) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in events:
        for message in encoder.encode(event):
            assert_strict(message)
            out.append(message)
    return out


def types(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in messages]


def test_session_events_carry_the_full_session() -> None:
    config = SessionConfig(
        instructions="Be nice.",
        modalities=("text",),
        voice=VoiceConfig("cedar", 1.1),
        input_audio_format=AudioFormat.pcma(),
        turn_detection=TurnDetection("manual"),
    )
    encoder = ServerEventEncoder(config, model="scripted")
    # A second session.created is dropped: a connection has one.
    created, updated = encode_all(
        encoder, SessionCreated("s"), SessionCreated("s"), SessionUpdated("s")
    )
    assert types([created, updated]) == ["session.created", "session.updated"]
    session = created["session"]
    assert session["type"] == "realtime"
    assert session["model"] == "scripted"
    assert session["instructions"] == "Be nice."
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcma"}
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "cedar",
        "speed": 1.1,
    }


def test_audio_response_sequence() -> None:
    encoder = ServerEventEncoder()
    out = encode_all(
        encoder,
        ItemCreated(MessageItem("item_u", "user", (TextPart("hi"),))),
        ResponseCreated("resp_1"),
        ItemCreated(MessageItem("item_a", "assistant", (), "in_progress"), "item_u"),
        TranscriptOutputDelta("resp_1", "item_a", "Hel"),
        AudioOutputDelta.from_bytes("resp_1", "item_a", b"\x00\x01" * 10),
        TranscriptOutputDelta("resp_1", "item_a", "lo"),
        AudioOutputDelta.from_bytes("resp_1", "item_a", b"\x00\x01" * 10),
        AudioOutputDone("resp_1", "item_a"),
        TranscriptOutput("resp_1", "item_a", "Hello"),
        ResponseDone("resp_1", "completed", Usage(10, 5, 15, output_audio_tokens=4)),
    )
    assert types(out) == [
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    deltas = [m for m in out if m["type"] == "response.output_audio.delta"]
    assert {
        (d["response_id"], d["item_id"], d["output_index"], d["content_index"]) for d in deltas
    } == {("resp_1", "item_a", 0, 0)}
    assert out[4]["previous_item_id"] == "item_u"
    done = out[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "Hello"}]
    assert done["usage"]["total_tokens"] == 15
    assert done["usage"]["output_token_details"]["audio_tokens"] == 4
    assert len({m["event_id"] for m in out}) == len(out)


def test_text_without_announcements_is_opened_on_the_fly() -> None:
    # A model that streams text with no response.created nor item: the encoder opens both.
    encoder = ServerEventEncoder()
    out = encode_all(
        encoder,
        TextOutputDelta(None, None, "Hi"),
        TextOutputDelta(None, None, " there"),
        TextOutput(None, None, "Hi there"),
        ResponseDone(None),
    )
    assert types(out) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    response_ids = {m.get("response_id") for m in out if "response_id" in m}
    assert len(response_ids) == 1
    assert out[-1]["response"]["output"][0]["content"] == [
        {"type": "output_text", "text": "Hi there"}
    ]


def test_tool_calls_stay_on_the_server() -> None:
    encoder = ServerEventEncoder()
    out = encode_all(
        encoder,
        ItemCreated(MessageItem("item_u", "user", (TextPart("weather?"),))),
        ResponseCreated("resp_tool"),
        ItemCreated(ToolCallItem("item_call", "call_1", "get_weather", "", "in_progress")),
        ToolStart("call_1", "get_weather", "item_call", "resp_tool"),
        ToolDelta("call_1", '{"city":"Paris"}'),
        ToolCall("call_1", "get_weather", '{"city":"Paris"}', "item_call", "resp_tool"),
        ResponseDone("resp_tool"),
        ItemCreated(ToolResultItem("item_out", "call_1", "sunny"), "item_call"),
        ResponseCreated("resp_2"),
        ItemCreated(MessageItem("item_a", "assistant", (), "in_progress"), "item_out"),
        TextOutputDelta("resp_2", "item_a", "Sunny."),
        TextOutput("resp_2", "item_a", "Sunny."),
        ResponseDone("resp_2"),
    )
    text = str(out)
    assert "call_1" not in text and "get_weather" not in text and "item_call" not in text
    assert types(out).count("response.created") == 1
    assert types(out).count("response.done") == 1
    assert out[-1]["response"]["id"] == "resp_2"
    added = [m for m in out if m["type"] == "conversation.item.added"]
    assert added[-1]["previous_item_id"] == "item_u"  # the hidden items are skipped


def test_cancelled_response_and_interruption() -> None:
    encoder = ServerEventEncoder()
    out = encode_all(
        encoder,
        ResponseCreated("r"),
        AudioOutputDelta.from_bytes("r", "a", b"\x00" * 8),
        ResponseInterrupted("r", "a", 10),
        ItemTruncated("a", 10),
        ResponseDone("r", "cancelled", None, "turn_detected"),
    )
    assert "response.interrupted" not in types(out)
    assert "conversation.item.truncated" in types(out)
    done = out[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"


def test_a_response_with_nothing_in_it_is_still_announced() -> None:
    out = encode_all(ServerEventEncoder(), ResponseCreated("r"), ResponseDone("r", "failed"))
    assert types(out) == ["response.created", "response.done"]
    assert out[1]["response"]["status_details"] == {"type": "failed"}


def test_input_audio_events() -> None:
    out = encode_all(
        ServerEventEncoder(),
        SpeechStarted("item_in", 120),
        SpeechStopped(None, 900),
        AudioInputCommitted("item_in", None),
        ItemCreated(MessageItem("item_in", "user", (AudioPart(),))),
        TranscriptInputDelta(None, "hel"),
        TranscriptInput("item_in", "hello"),
        AudioInputCleared(),
        ItemDeleted("item_in"),
    )
    assert types(out) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "input_audio_buffer.cleared",
        "conversation.item.deleted",
    ]
    assert out[1]["item_id"] == "item_in"
    assert out[5]["item_id"] == "item_in"
    assert out[3]["item"]["content"] == [{"type": "input_audio", "transcript": None}]


def test_errors() -> None:
    encoder = ServerEventEncoder()
    [client] = encode_all(encoder, SessionError("invalid_value", "bad", "evt_9", "audio"))
    assert client["error"] == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "bad",
        "param": "audio",
        "event_id": "evt_9",
    }
    [lost] = encode_all(encoder, SessionError("connection_lost", "gone", fatal=True))
    assert lost["error"]["type"] == "server_error"
    made = encoder.error("frame_too_large", "too big")
    assert_strict(made)
    [quoted] = encode_all(
        encoder, SessionError("invalid_api_key", "Incorrect API key provided: sk-proj-abc123456789")
    )
    assert "abc123456789" not in quoted["error"]["message"]
    assert quoted["error"]["message"] == "Incorrect API key provided: ***"
