"""decode_client: OpenAI Realtime GA client events -> neutral client events."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from voicewire.openai_wire.fields import Fields
from voicewire.openai_wire.session_decode import parse_session
from voicewire.openai_wire.session_encode import render_session
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    AudioPart,
    ItemCreate,
    ItemDelete,
    ItemTruncate,
    MessageItem,
    ProtocolError,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    TextPart,
    ToolCallItem,
    ToolDefinition,
    ToolResultItem,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
)
from voicewire.server import ClientEventError, client_event_id, decode_client
from voicewire.testing import validate_client_event

FULL_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "Speak like a pirate.",
    "output_modalities": ["text"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.6,
                "silence_duration_ms": 400,
                "prefix_padding_ms": 200,
                "create_response": False,
                "interrupt_response": True,
            },
            "noise_reduction": {"type": "near_field"},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar", "speed": 1.2},
    },
    "tools": [
        {
            "type": "function",
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ],
    "tool_choice": {"type": "function", "name": "lookup"},
    "max_output_tokens": 512,
    "tracing": "auto",
}


def test_session_update_reads_the_whole_ga_session() -> None:
    assert validate_client_event({"type": "session.update", "session": FULL_SESSION}) == []
    [event] = decode_client({"type": "session.update", "session": FULL_SESSION})
    assert event == SessionUpdate(
        SessionConfig(
            instructions="Speak like a pirate.",
            tools=(
                ToolDefinition(
                    "lookup",
                    "Look something up.",
                    {"type": "object", "properties": {"q": {"type": "string"}}},
                ),
            ),
            tool_choice="lookup",
            modalities=("text",),
            voice=VoiceConfig("cedar", 1.2),
            input_audio_format=AudioFormat.pcmu(),
            output_audio_format=AudioFormat.pcm16(24000),
            turn_detection=TurnDetection(
                "server_vad",
                threshold=0.6,
                silence_duration_ms=400,
                prefix_padding_ms=200,
                create_response=False,
                interrupt_response=True,
            ),
            transcription=TranscriptionConfig(model="gpt-4o-transcribe", language="en"),
            max_output_tokens=512,
        )
    )


def test_session_update_leaves_unset_settings_alone() -> None:
    [event] = decode_client({"type": "session.update", "session": {"type": "realtime"}})
    assert event == SessionUpdate(SessionConfig())
    [manual] = decode_client(
        {"type": "session.update", "session": {"audio": {"input": {"turn_detection": None}}}}
    )
    assert isinstance(manual, SessionUpdate)
    assert manual.config.turn_detection == TurnDetection("manual")
    [semantic] = decode_client(
        {
            "type": "session.update",
            "session": {
                "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}
            },
        }
    )
    assert isinstance(semantic, SessionUpdate)
    assert semantic.config.turn_detection == TurnDetection("semantic_vad", eagerness="low")


def test_rendered_session_parses_back() -> None:
    config = parse_session(FULL_SESSION, Fields("session.update"))
    rendered = render_session(config, model="m")
    again = parse_session(rendered, Fields("session.update"))
    assert again == config


def test_items() -> None:
    audio = base64.b64encode(b"\x01\x02").decode()
    [user] = decode_client(
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_1",
            "item": {
                "id": "item_2",
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_audio", "audio": audio, "transcript": "hey"},
                ],
            },
        }
    )
    assert user == ItemCreate(
        MessageItem("item_2", "user", (TextPart("hi"), AudioPart("hey", b"\x01\x02"))), "item_1"
    )
    [call] = decode_client(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        }
    )
    assert call == ItemCreate(ToolCallItem(None, "c1", "f", "{}"))
    [output] = decode_client(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c1", "output": "42"},
        }
    )
    assert output == ItemCreate(ToolResultItem(None, "c1", "42"))


def test_simple_events() -> None:
    audio = base64.b64encode(b"\x00\x01" * 4).decode()
    cases: list[tuple[dict[str, Any], object]] = [
        ({"type": "input_audio_buffer.append", "audio": audio}, AudioInputAppend(b"\x00\x01" * 4)),
        ({"type": "input_audio_buffer.commit"}, AudioInputCommit()),
        ({"type": "input_audio_buffer.clear"}, AudioInputClear()),
        ({"type": "conversation.item.delete", "item_id": "i"}, ItemDelete("i")),
        (
            {
                "type": "conversation.item.truncate",
                "item_id": "i",
                "content_index": 0,
                "audio_end_ms": 120,
            },
            ItemTruncate("i", 120, 0),
        ),
        ({"type": "response.create"}, ResponseCreate()),
        (
            {
                "type": "response.create",
                "response": {
                    "instructions": "Shout.",
                    "output_modalities": ["audio"],
                    "max_output_tokens": "inf",
                    "metadata": {"topic": "x"},
                    "tool_choice": "none",
                },
            },
            ResponseCreate(
                ResponseConfig(
                    instructions="Shout.",
                    modalities=("audio",),
                    tool_choice="none",
                    metadata={"topic": "x"},
                )
            ),
        ),
        ({"type": "response.cancel"}, ResponseCancel()),
        ({"type": "response.cancel", "response_id": "r"}, ResponseCancel("r")),
    ]
    for message, expected in cases:
        assert validate_client_event(message) == [], message
        assert decode_client(message) == [expected]


@pytest.mark.parametrize(
    ("message", "code", "param", "words"),
    [
        ({"type": "nope"}, "invalid_value", "type", "unknown client event type 'nope'"),
        ({"event_id": "e1"}, "missing_required_parameter", "type", "string 'type'"),
        ({"type": 7}, "invalid_type", "type", "string 'type'"),
        (
            {"type": "input_audio_buffer.append", "audio": 5},
            "invalid_type",
            "audio",
            "'input_audio_buffer.append' event: 'audio' must be a string, got int 5",
        ),
        (
            {"type": "input_audio_buffer.append", "audio": "%%%"},
            "invalid_value",
            "audio",
            "'audio' is not valid base64",
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0},
            "missing_required_parameter",
            "audio_end_ms",
            "'audio_end_ms' must be an integer, got nothing",
        ),
        (
            {"type": "session.update", "session": {"audio": {"input": {"format": {"rate": 1}}}}},
            "missing_required_parameter",
            "session.audio.input.format.type",
            "'session.update' event",
        ),
        (
            {"type": "session.update", "session": {"output_modalities": ["video"]}},
            "invalid_value",
            "session.output_modalities[0]",
            "must be 'audio' or 'text'",
        ),
        (
            {"type": "session.update", "session": {"type": "transcription"}},
            "unsupported_session_type",
            "session.type",
            "transcription sessions",
        ),
        (
            {"type": "conversation.item.create", "item": {"type": "message", "role": "bot"}},
            "invalid_value",
            "item.role",
            "'item.role' must be 'user', 'assistant' or 'system'",
        ),
        (
            {"type": "output_audio_buffer.clear"},
            "invalid_value",
            "type",
            "WebRTC and SIP",
        ),
        (
            {"type": "response.create", "response": {"conversation": "none"}},
            "unsupported_parameter",
            "response.conversation",
            "out-of-band",
        ),
    ],
)
def test_bad_input_names_the_event_and_the_field(
    message: dict[str, Any], code: str, param: str, words: str
) -> None:
    with pytest.raises(ClientEventError) as caught:
        decode_client(message)
    assert isinstance(caught.value, ProtocolError)
    assert caught.value.code == code
    assert caught.value.param == param
    assert words in caught.value.message


def test_not_an_object() -> None:
    with pytest.raises(ClientEventError) as caught:
        decode_client([1, 2])  # type: ignore[arg-type]
    assert caught.value.code == "invalid_json"


def test_client_event_id() -> None:
    assert client_event_id({"event_id": "evt_1", "type": "x"}) == "evt_1"
    assert client_event_id({"event_id": 3}) is None
    assert client_event_id("text") is None
