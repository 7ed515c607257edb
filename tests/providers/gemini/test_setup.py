"""The setup frame: every SessionConfig field placed where Gemini reads it, strictly valid against
google-genai's types, provider_options merged last."""

from __future__ import annotations

import pytest

from voicewire.protocol import (
    ConfigurationError,
    SessionConfig,
    ToolDefinition,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
)
from voicewire.providers.gemini.setup import build_setup, takes_realtime_text

from .support import strict_client

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WEATHER = ToolDefinition(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def setup_of(config: SessionConfig | None, handle: str | None = None) -> dict[str, object]:
    frame = strict_client(build_setup(MODEL, config, handle=handle))
    assert list(frame) == ["setup"]
    setup = frame["setup"]
    assert isinstance(setup, dict)
    return setup


def test_defaults_ask_for_audio_with_transcript_handles_and_compression() -> None:
    setup = setup_of(None)
    assert setup == {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["AUDIO"]},
        "outputAudioTranscription": {},
        "sessionResumption": {},
        "contextWindowCompression": {"slidingWindow": {}},
    }


def test_every_field_lands_where_gemini_reads_it() -> None:
    config = SessionConfig(
        instructions="Be brief.",
        tools=[WEATHER],
        voice=VoiceConfig("Kore", speed=1.2),
        transcription=TranscriptionConfig(language="en"),
        max_output_tokens=256,
        turn_detection=TurnDetection(
            "server_vad", threshold=0.8, silence_duration_ms=600, prefix_padding_ms=300
        ),
    )
    setup = setup_of(config, handle="h-1")
    assert setup["generationConfig"] == {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
        "maxOutputTokens": 256,
    }
    assert setup["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert setup["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parametersJsonSchema": dict(WEATHER.parameters),
                }
            ]
        }
    ]
    assert setup["realtimeInputConfig"] == {
        "automaticActivityDetection": {
            "disabled": False,
            "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
            "prefixPaddingMs": 300,
            "silenceDurationMs": 600,
        }
    }
    assert setup["inputAudioTranscription"] == {}
    assert setup["sessionResumption"] == {"handle": "h-1"}


def test_manual_turns_disable_detection_and_no_interruption_is_said() -> None:
    manual = setup_of(SessionConfig(turn_detection=TurnDetection("manual")))
    assert manual["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}
    calm = setup_of(SessionConfig(turn_detection=TurnDetection(interrupt_response=False)))
    assert calm["realtimeInputConfig"] == {
        "automaticActivityDetection": {"disabled": False},
        "activityHandling": "NO_INTERRUPTION",
    }
    sensitive = setup_of(SessionConfig(turn_detection=TurnDetection(threshold=0.2)))
    detection = sensitive["realtimeInputConfig"]["automaticActivityDetection"]  # type: ignore[index]
    assert detection["startOfSpeechSensitivity"] == "START_SENSITIVITY_HIGH"


def test_text_modality_and_tool_choice_none() -> None:
    setup = setup_of(SessionConfig(modalities=["text"], tools=[WEATHER], tool_choice="none"))
    assert setup["generationConfig"] == {"responseModalities": ["TEXT"]}
    assert "tools" not in setup and "outputAudioTranscription" not in setup


def test_provider_options_merge_deeply_and_none_removes() -> None:
    config = SessionConfig(
        voice=VoiceConfig("Puck"),
        provider_options={
            "generationConfig": {"temperature": 0.6},
            "contextWindowCompression": None,
            "proactivity": {"proactiveAudio": True},
        },
    )
    setup = setup_of(config)
    assert setup["generationConfig"] == {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}},
        "temperature": 0.6,
    }
    assert "contextWindowCompression" not in setup
    assert setup["proactivity"] == {"proactiveAudio": True}
    sized = setup_of(
        SessionConfig(
            provider_options={
                "contextWindowCompression": {
                    "triggerTokens": 25600,
                    "slidingWindow": {"targetTokens": 12800},
                }
            }
        )
    )
    assert sized["contextWindowCompression"] == {
        "triggerTokens": 25600,
        "slidingWindow": {"targetTokens": 12800},
    }


def test_what_gemini_cannot_do_is_refused_before_dialing() -> None:
    with pytest.raises(ConfigurationError, match="semantic"):
        build_setup(MODEL, SessionConfig(turn_detection=TurnDetection("semantic_vad")))
    with pytest.raises(ConfigurationError, match="create_response"):
        build_setup(MODEL, SessionConfig(turn_detection=TurnDetection(create_response=False)))
    with pytest.raises(ConfigurationError, match="modalities"):
        build_setup(MODEL, SessionConfig(modalities=[]))


def test_model_generation_decides_how_text_is_sent() -> None:
    assert not takes_realtime_text(MODEL)
    assert takes_realtime_text("gemini-3.1-flash-live-preview")
    assert takes_realtime_text("models/gemini-3-flash-live")
    assert not takes_realtime_text("gemini-live-2.5-flash-native-audio")
    assert build_setup("models/x", None)["setup"]["model"] == "models/x"
