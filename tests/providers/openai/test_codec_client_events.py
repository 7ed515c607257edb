"""Every neutral client event, encoded for OpenAI Realtime GA, validates STRICTLY against the
official ``openai`` client event models (``openai.types.realtime.RealtimeClientEvent``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from openai.types.realtime import RealtimeSessionCreateRequest
from pydantic import ValidationError

from tests.openai_wire.examples import CLIENT_EXAMPLES, FULL_G711, FULL_PCM, MANUAL, WEATHER
from tests.openai_wire.support import AUDIO, validate_client_event
from voicewire.protocol import (
    CLIENT_EVENT_TYPES,
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    ConfigurationError,
    ItemTruncate,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    ToolResult,
    TurnDetection,
    VoiceConfig,
)
from voicewire.providers.openai import codec as openai_codec


def test_every_client_event_kind_has_examples() -> None:
    all_kinds = {cls.kind for cls in CLIENT_EVENT_TYPES}
    assert len(all_kinds) == 12
    assert {event.kind for event in CLIENT_EXAMPLES.values()} == all_kinds


@pytest.mark.parametrize("name", list(CLIENT_EXAMPLES))
def test_encoding_validates_strictly_against_openai_models(name: str) -> None:
    event = CLIENT_EXAMPLES[name]
    message = openai_codec.encode_client(event)
    if event.kind in ("activity.start", "activity.end"):
        assert message is None
        return
    assert message is not None
    model = validate_client_event(message)
    if event.kind == "session.update":
        # Not the transcription-session variant of the Session union: a realtime session.
        assert isinstance(model.session, RealtimeSessionCreateRequest)  # type: ignore[attr-defined]


def test_activity_events_cannot_be_expressed() -> None:
    assert openai_codec.encode_client(ActivityStart()) is None
    assert openai_codec.encode_client(ActivityEnd()) is None


# --- the strict checker itself -----------------------------------------------------------------


def test_strict_check_rejects_unknown_keys() -> None:
    good: dict[str, Any] = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    }
    validate_client_event(good)
    nested = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": None, "vad": 1}}},
    }
    with pytest.raises(AssertionError, match=r"\$\.session\.audio\.input\.vad"):
        validate_client_event(nested)
    with pytest.raises(AssertionError, match="modalities"):
        # Beta spelling: GA says output_modalities.
        validate_client_event(
            {"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}}
        )
    with pytest.raises(AssertionError, match="voice"):
        # xAI placement, unknown to OpenAI GA.
        validate_client_event(
            {"type": "session.update", "session": {"type": "realtime", "voice": "ara"}}
        )
    with pytest.raises(AssertionError, match="name"):
        validate_client_event(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "c", "output": "", "name": "x"},
            }
        )


def test_strict_check_rejects_coercion_and_wrong_types() -> None:
    with pytest.raises(ValidationError):
        validate_client_event(
            {
                "type": "conversation.item.truncate",
                "item_id": "i",
                "content_index": 0,
                "audio_end_ms": "5",
            }
        )
    with pytest.raises(ValidationError):
        validate_client_event(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            }
        )
    with pytest.raises(ValidationError):
        validate_client_event({"type": "input_audio_buffer.append"})


# --- exact shapes ------------------------------------------------------------------------------


def test_full_session_shape() -> None:
    session = openai_codec.encode_session(FULL_PCM)
    assert session == {
        "type": "realtime",
        "instructions": "You are a concise phone assistant.",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {
                    "model": "gpt-4o-mini-transcribe",
                    "language": "en",
                    "prompt": "weather, cities",
                },
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.6,
                    "silence_duration_ms": 450,
                    "prefix_padding_ms": 250,
                    "create_response": True,
                    "interrupt_response": False,
                },
                "noise_reduction": {"type": "near_field"},
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "marin",
                "speed": 1.2,
            },
        },
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": dict(WEATHER.parameters),
            },
            {
                "type": "function",
                "name": "hang_up",
                "description": "End the call.",
                "parameters": {"type": "object", "properties": {}},
            },
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "max_output_tokens": 1024,
        "tracing": "auto",
        "truncation": "auto",
    }


def test_g711_semantic_vad_and_text_modality() -> None:
    session = openai_codec.encode_session(FULL_G711)
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": False,
        "interrupt_response": True,
    }
    assert session["tool_choice"] == "required"


def test_manual_turn_detection_is_null() -> None:
    session = openai_codec.encode_session(MANUAL)
    assert "turn_detection" in session["audio"]["input"]
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "speed": 1.0}
    assert session["tool_choice"] == "none"


def test_minimal_session_leaves_provider_defaults_alone() -> None:
    assert openai_codec.encode_session(SessionConfig()) == {"type": "realtime", "tools": []}


def test_provider_options_deep_merge_last() -> None:
    config = SessionConfig(
        voice=VoiceConfig("marin"),
        provider_options={
            "audio": {"output": {"voice": "cedar"}},
            "include": ["item.input_audio_transcription.logprobs"],
        },
    )
    session = openai_codec.encode_session(config, provider_options={"tracing": None})
    assert session["audio"] == {"output": {"voice": "cedar"}}
    assert session["include"] == ["item.input_audio_transcription.logprobs"]
    assert session["tracing"] is None
    validate_client_event({"type": "session.update", "session": session})


def test_client_event_shapes() -> None:
    encode = openai_codec.encode_client
    assert encode(AudioInputAppend(AUDIO)) == {
        "type": "input_audio_buffer.append",
        "audio": base64.b64encode(AUDIO).decode(),
    }
    assert encode(ItemTruncate("item_a1", 1830)) == {
        "type": "conversation.item.truncate",
        "item_id": "item_a1",
        "content_index": 0,
        "audio_end_ms": 1830,
    }
    assert encode(ResponseCancel()) == {"type": "response.cancel"}
    assert encode(ResponseCancel("resp_1")) == {"type": "response.cancel", "response_id": "resp_1"}
    assert encode(ResponseCreate(ResponseConfig())) == {"type": "response.create"}
    assert encode(ToolResult("call_1", "42", name="calc", is_error=False)) == {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    }
    created = encode(CLIENT_EXAMPLES["item.create user audio"])
    assert created == {
        "type": "conversation.item.create",
        "previous_item_id": "item_prev",
        "item": {
            "type": "message",
            "role": "user",
            "id": "item_u1",
            "content": [
                {
                    "type": "input_audio",
                    "audio": base64.b64encode(AUDIO).decode(),
                    "transcript": "hello",
                }
            ],
        },
    }
    assistant = encode(CLIENT_EXAMPLES["item.create assistant"])
    assert assistant is not None
    assert assistant["item"]["content"] == [
        {"type": "output_audio", "transcript": "It is sunny."},
        {"type": "output_text", "text": " 21 degrees."},
    ]
    system = encode(CLIENT_EXAMPLES["item.create system"])
    assert system is not None
    assert system["item"]["content"] == [
        {"type": "input_text", "text": "The user is on a train."},
        {"type": "input_text", "text": "noisy"},
    ]
    full = encode(CLIENT_EXAMPLES["response.create full"])
    assert full is not None
    assert full["response"] == {
        "instructions": "Answer in one sentence.",
        "output_modalities": ["audio"],  # GA takes one modality; audio comes with its transcript
        "tool_choice": "auto",
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": dict(WEATHER.parameters),
            }
        ],
        "max_output_tokens": 200,
        "metadata": {"turn": "7", "purpose": "greeting"},
    }


# --- settings OpenAI cannot honour fail before anything is sent -------------------------------


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (SessionConfig(input_audio_format=AudioFormat.pcm16(16000)), "24000 Hz"),
        (SessionConfig(output_audio_format=AudioFormat.pcm16(24000, channels=2)), "mono"),
        (SessionConfig(input_audio_format=AudioFormat("audio/pcmu", 16000, 8)), "8000 Hz"),
        (SessionConfig(turn_detection=TurnDetection("semantic_vad", threshold=0.5)), "server_vad"),
        (SessionConfig(turn_detection=TurnDetection("server_vad", eagerness="low")), "semantic"),
        (SessionConfig(tool_choice=""), "tool_choice"),
        (SessionConfig(modalities=("video",)), "modality"),  # type: ignore[arg-type]
    ],
)
def test_unsupported_settings_raise(config: SessionConfig, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        openai_codec.encode_client(SessionUpdate(config))


def test_not_an_event_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="client event"):
        openai_codec.encode_client("session.update")  # type: ignore[arg-type]
