"""The first frame from a session config: overrides only for what the app set, provider options
by their documented keys, and every frame valid against the AsyncAPI (no unknown keys)."""

from __future__ import annotations

from typing import Any

import pytest

from voicewire.protocol import (
    ConfigurationError,
    SessionConfig,
    ToolDefinition,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
)
from voicewire.providers.elevenlabs import PROVIDER_OPTIONS
from voicewire.providers.elevenlabs.initiation import initiation_message
from voicewire.testing.elevenlabs_validation import validate_elevenlabs_client


def initiation(config: SessionConfig | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    message, overrides = initiation_message(config, source_version="9.9")
    assert validate_elevenlabs_client(message) == [], message
    return message, overrides


def test_a_bare_config_overrides_nothing() -> None:
    tool = ToolDefinition("f", "does f", {"type": "object", "properties": {}})
    message, overrides = initiation(SessionConfig(tools=[tool], turn_detection=TurnDetection()))
    assert message == {
        "type": "conversation_initiation_client_data",
        "source_info": {"source": "voicewire", "version": "9.9"},
    }
    assert overrides == ()


def test_what_the_app_set_becomes_overrides() -> None:
    config = SessionConfig(
        instructions="Be brief.",
        voice=VoiceConfig("voice_abc", speed=1.2),
        transcription=TranscriptionConfig(language="no"),
        modalities=["text"],
    )
    message, overrides = initiation(config)
    assert message["conversation_config_override"] == {
        "agent": {"prompt": {"prompt": "Be brief."}, "language": "no"},
        "tts": {"voice_id": "voice_abc", "speed": 1.2},
        "conversation": {"text_only": True},
    }
    assert set(overrides) == {
        "agent.prompt.prompt",
        "agent.language",
        "tts.voice_id",
        "tts.speed",
        "conversation.text_only",
    }


def test_provider_options_reach_their_documented_places() -> None:
    options = {
        "first_message": "Hi! How can I help?",
        "llm": "gpt-4o-mini",
        "stability": 0.4,
        "similarity_boost": 0.8,
        "asr_keywords": ["voicewire"],
        "client_events": ["audio", "agent_response", "ping"],
        "dynamic_variables": {"user_name": "Ada"},
        "custom_llm_extra_body": {"temperature": 0.2},
        "user_id": "user_1",
        "tool_mock_config": {"mocking_strategy": "none"},
        "native_mcp_server_ids": ["mcp_1"],
    }
    message, _ = initiation(SessionConfig(provider_options=options))
    override = message["conversation_config_override"]
    assert override["agent"] == {
        "first_message": "Hi! How can I help?",
        "prompt": {"llm": "gpt-4o-mini"},
        "native_mcp_server_ids": ["mcp_1"],
    }
    assert override["tts"] == {"stability": 0.4, "similarity_boost": 0.8}
    assert override["asr"] == {"keywords": ["voicewire"]}
    assert override["conversation"] == {"client_events": ["audio", "agent_response", "ping"]}
    assert message["dynamic_variables"] == {"user_name": "Ada"}
    assert message["custom_llm_extra_body"] == {"temperature": 0.2}
    assert message["user_id"] == "user_1"
    assert set(options) < set(PROVIDER_OPTIONS)


def test_overrides_false_keeps_the_agents_own_prompt_and_voice() -> None:
    config = SessionConfig(
        instructions="Be brief.",
        voice=VoiceConfig("v"),
        provider_options={"overrides": False, "dynamic_variables": {"a": 1}},
    )
    message, overrides = initiation(config)
    assert "conversation_config_override" not in message and overrides == ()
    assert message["dynamic_variables"] == {"a": 1}


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (SessionConfig(provider_options={"temprature": 1}), "'temprature'"),
        (SessionConfig(turn_detection=TurnDetection("manual")), "manual turn detection"),
        (SessionConfig(voice=VoiceConfig(speed=0.5)), "speed must be from 0.7 to 5.0"),
        (SessionConfig(provider_options={"stability": 2}), "'stability' must be a number 0 to 1"),
        (SessionConfig(provider_options={"asr_keywords": "x"}), "must be a list of strings"),
        (SessionConfig(provider_options={"dynamic_variables": [1]}), "must be an object"),
        (SessionConfig(provider_options={"user_id": 5}), "'user_id' must be a string"),
    ],
)
def test_what_cannot_be_sent_is_a_clear_configuration_error(
    config: SessionConfig, words: str
) -> None:
    with pytest.raises(ConfigurationError, match="elevenlabs") as raised:
        initiation_message(config, source_version="1")
    assert words in raised.value.message
