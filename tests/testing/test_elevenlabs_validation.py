"""The ElevenLabs Agents validator: the official AsyncAPI, strict on client messages.

Each test pins one adjustment the validator makes to the spec (YAML 1.2 booleans, nullable,
references, injected ``additionalProperties: false`` on the client side only) or one way of
choosing the schema (``type``, or the ``user_audio_chunk`` key).
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from voicewire.testing.elevenlabs_validation import (
    client_message_types,
    load_elevenlabs_spec,
    server_message_types,
    validate_elevenlabs_client,
    validate_elevenlabs_server,
)

# The initiation example of the recipe (from the spec's ConversationInitiation payload).
INITIATION: dict[str, Any] = {
    "type": "conversation_initiation_client_data",
    "conversation_config_override": {
        "agent": {
            "prompt": {"prompt": "You are a helpful agent.", "llm": "gemini-2.0-flash"},
            "first_message": "Hi",
            "language": "en",
            "native_mcp_server_ids": [],
        },
        "tts": {"voice_id": "voice_1", "stability": 0.5, "speed": 1.0, "similarity_boost": 0.8},
        "asr": {"keywords": ["voicewire"]},
        "conversation": {
            "text_only": False,
            "client_events": [
                "audio",
                "agent_response",
                "user_transcript",
                "interruption",
                "ping",
                "client_tool_call",
            ],
        },
    },
    "custom_llm_extra_body": {"temperature": 0.7},
    "dynamic_variables": {"user_name": "John"},
    "user_id": "u1",
    "source_info": {"source": "voicewire", "version": "0.1.0"},
    "tool_mock_config": {"mocking_strategy": "none"},
}

AUDIO_B64 = base64.b64encode(b"\x00\x01" * 160).decode()

# Server messages as the real service sends them; each must validate.
SERVER_FIXTURES: list[dict[str, Any]] = [
    {
        "type": "conversation_initiation_metadata",
        "conversation_initiation_metadata_event": {
            "conversation_id": "conv_1",
            "agent_output_audio_format": "pcm_44100",
            "user_input_audio_format": "pcm_16000",
        },
    },
    {"type": "audio", "audio_event": {"audio_base_64": AUDIO_B64, "event_id": 3}},
    {
        "type": "audio",
        "audio_event": {
            "audio_base_64": AUDIO_B64,
            "event_id": 3,
            "alignment": {
                "chars": ["H", "i"],
                "char_start_times_ms": [0, 60],
                "char_durations_ms": [60, 80],
            },
        },
    },
    {
        "type": "user_transcript",
        "user_transcription_event": {"user_transcript": "hi", "event_id": 2},
    },
    {
        "type": "tentative_user_transcript",
        "tentative_user_transcription_event": {"user_transcript": "h", "event_id": 2},
    },
    {"type": "agent_response", "agent_response_event": {"agent_response": "Hello!", "event_id": 3}},
    {
        "type": "agent_chat_response_part",
        "text_response_part": {"text": "", "type": "start", "event_id": 3},
    },
    {
        "type": "agent_response_correction",
        "agent_response_correction_event": {
            "original_agent_response": "Hello there, how",
            "corrected_agent_response": "Hello there",
            "event_id": 3,
        },
    },
    {"type": "interruption", "interruption_event": {"event_id": 4}},
    {"type": "ping", "ping_event": {"event_id": 5, "ping_ms": None}},
    {"type": "ping", "ping_event": {"event_id": 6, "ping_ms": 42}},
    {
        "type": "client_tool_call",
        "client_tool_call": {
            "tool_name": "get_weather",
            "tool_call_id": "call_1",
            "parameters": {"city": "Paris"},
            "event_id": 7,
        },
    },
    {"type": "vad_score", "vad_score_event": {"vad_score": 0.93}},
    {
        "type": "error",
        "error_event": {
            "code": 1008,
            "message": "Override for field 'agent.prompt' is not allowed by config.",
            "error_type": "override_error",
            "reason": None,
        },
    },
]


def test_the_spec_declares_both_directions() -> None:
    assert client_message_types() == {
        "<user_audio_chunk>",
        "pong",
        "user_message",
        "user_activity",
        "feedback",
        "client_tool_result",
        "mcp_tool_approval_result",
        "contextual_update",
        "conversation_initiation_client_data",
        "multimodal_message",
    }
    assert {"audio", "ping", "interruption", "client_tool_call", "error"} <= server_message_types()
    assert len(server_message_types()) == 27


def test_the_initiation_example_passes() -> None:
    assert validate_elevenlabs_client(INITIATION) == []


def test_language_no_is_a_string_not_a_yaml_boolean() -> None:
    languages = load_elevenlabs_spec()["components"]["schemas"]["Language"]["enum"]
    assert "no" in languages
    assert False not in languages
    message = copy.deepcopy(INITIATION)
    message["conversation_config_override"]["agent"]["language"] = "no"
    assert validate_elevenlabs_client(message) == []
    message["conversation_config_override"]["agent"]["language"] = False
    assert validate_elevenlabs_client(message) != []


def test_pong_with_an_extra_key_is_rejected() -> None:
    assert validate_elevenlabs_client({"type": "pong", "event_id": 3}) == []
    problems = validate_elevenlabs_client({"type": "pong", "event_id": 3, "ping_ms": 5})
    assert problems == ["pong: <message>: unknown key(s): 'ping_ms'"]


def test_unknown_keys_are_rejected_deep_in_client_messages() -> None:
    message = copy.deepcopy(INITIATION)
    message["conversation_config_override"]["tts"]["voice"] = "x"
    assert validate_elevenlabs_client(message) == [
        "conversation_initiation_client_data: conversation_config_override.tts: "
        "unknown key(s): 'voice'"
    ]
    # The official Python SDK's mistake: text_only at the top of the override.
    message = copy.deepcopy(INITIATION)
    message["conversation_config_override"]["text_only"] = True
    assert validate_elevenlabs_client(message) != []
    # Through a nullable reference (multimodal_message.text is a UserMessagePayload or null).
    nested = {"type": "multimodal_message", "text": {"type": "user_message", "text": "x", "y": 1}}
    assert validate_elevenlabs_client(nested) == ["multimodal_message: text: unknown key(s): 'y'"]


def test_free_form_objects_stay_open() -> None:
    message = {
        "type": "conversation_initiation_client_data",
        "dynamic_variables": {"anything": 1, "nested": {"x": [1, 2]}},
        "custom_llm_extra_body": {"temperature": 0.2, "top_p": 0.9},
    }
    assert validate_elevenlabs_client(message) == []


def test_client_tool_result_with_an_object_result_is_rejected() -> None:
    good = {"type": "client_tool_result", "tool_call_id": "c1", "result": "{}", "is_error": False}
    assert validate_elevenlabs_client(good) == []
    bad = dict(good, result={"temperature": 21})
    assert validate_elevenlabs_client(bad) == [
        "client_tool_result: result: {'temperature': 21} is not of type 'string'"
    ]
    missing = {k: v for k, v in good.items() if k != "is_error"}
    assert validate_elevenlabs_client(missing) == [
        "client_tool_result: <message>: 'is_error' is a required property"
    ]


def test_unknown_or_missing_type_is_rejected() -> None:
    assert validate_elevenlabs_client({"type": "response.create"}) == [
        "<message>: unknown client message type 'response.create'"
    ]
    assert validate_elevenlabs_client({"text": "hi"}) == [
        "<message>: missing 'type' (and not a user_audio_chunk)"
    ]
    # Server messages are not client messages, and the other way round.
    assert validate_elevenlabs_client({"type": "ping", "ping_event": {"event_id": 1}}) != []
    assert validate_elevenlabs_server({"type": "pong", "event_id": 1}) == [
        "<message>: unknown server message type 'pong'"
    ]
    # Audio is recognised by its key only on the client side.
    assert validate_elevenlabs_server({"user_audio_chunk": AUDIO_B64}) != []


def test_audio_is_picked_by_its_key_and_must_be_base64() -> None:
    assert validate_elevenlabs_client({"user_audio_chunk": AUDIO_B64}) == []
    assert validate_elevenlabs_client({"user_audio_chunk": "not base64!"}) == [
        "<user_audio_chunk>: user_audio_chunk: 'not base64!' is not a 'base64'"
    ]
    assert validate_elevenlabs_client({"user_audio_chunk": AUDIO_B64, "type": "audio"}) != []
    assert validate_elevenlabs_client({"user_audio_chunk": AUDIO_B64, "sample_rate": 16000}) != []


def test_nullable_fields_accept_null() -> None:
    assert validate_elevenlabs_client({"type": "user_message", "text": None}) == []
    assert validate_elevenlabs_client({"type": "feedback", "event_id": 2, "score": None}) == []
    assert validate_elevenlabs_client({"type": "feedback", "event_id": 2, "score": "meh"}) != []
    override = {"agent": {"first_message": None, "prompt": {"prompt": None}}}
    message = {
        "type": "conversation_initiation_client_data",
        "conversation_config_override": override,
    }
    assert validate_elevenlabs_client(message) == []


def test_integers_are_not_booleans() -> None:
    assert validate_elevenlabs_client({"type": "pong", "event_id": True}) == [
        "pong: event_id: True is not of type 'integer'"
    ]


@pytest.mark.parametrize("fixture", SERVER_FIXTURES, ids=lambda f: str(f["type"]))
def test_server_fixtures_validate(fixture: dict[str, Any]) -> None:
    assert validate_elevenlabs_server(fixture) == []


def test_server_messages_may_grow_but_not_break() -> None:
    grown = {"type": "interruption", "interruption_event": {"event_id": 4, "reason": "user"}}
    assert validate_elevenlabs_server(grown) == []
    assert validate_elevenlabs_server({"type": "interruption", "interruption_event": {}}) == [
        "interruption: interruption_event: 'event_id' is a required property"
    ]
    bad_code = {"type": "error", "error_event": {"code": 4000, "error_type": "override_error"}}
    assert validate_elevenlabs_server(bad_code) == [
        "error: error_event.code: 4000 is not one of [1000, 1002, 1008, 1011]"
    ]
    bad_type = {"type": "error", "error_event": {"code": 1008, "error_type": "oops"}}
    problems = validate_elevenlabs_server(bad_type)
    assert len(problems) == 1 and "'oops' is not one of" in problems[0]
    bad_score = {"type": "vad_score", "vad_score_event": {"vad_score": 1.5}}
    assert validate_elevenlabs_server(bad_score) == [
        "vad_score: vad_score_event.vad_score: 1.5 is greater than the maximum of 1"
    ]


def test_non_objects_and_non_json_are_problems_not_crashes() -> None:
    assert validate_elevenlabs_client([1, 2]) == [  # type: ignore[arg-type]
        "<message>: a message must be a JSON object, not list"
    ]
    problems = validate_elevenlabs_client({"type": "pong", "event_id": object()})
    assert len(problems) == 1 and "not JSON-serialisable" in problems[0]
