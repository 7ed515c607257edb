"""What Gemini declares matches what its codec does, mid-session changes are taken, and close
codes become clear errors with the right retry decision."""

from __future__ import annotations

import pytest

from tests.protocol.test_capabilities import ONE_OF_EACH
from voicewire.protocol import (
    AudioFormat,
    ConfigurationError,
    HandshakeError,
    SessionConfig,
    ToolDefinition,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
)
from voicewire.protocol.capabilities import ANY_AUDIO
from voicewire.providers import gemini
from voicewire.providers.gemini.client_codec import GeminiClientCodec
from voicewire.providers.gemini.close_codes import describe_close, setup_refused
from voicewire.providers.gemini.turns import TurnState

MANUAL = SessionConfig(turn_detection=TurnDetection("manual"))


def test_the_codec_refuses_exactly_what_the_capabilities_say() -> None:
    caps = gemini.realtime(api_key="k").capabilities
    unsupported = caps.unsupported_client_events()
    assert unsupported == {"item.truncate", "item.delete", "response.cancel", "audio.input.clear"}
    for event in ONE_OF_EACH:
        if event.kind == "session.update":
            continue  # a changed config is refused by the session before it is sent
        codec = GeminiClientCodec(gemini.DEFAULT_MODEL, MANUAL, TurnState())
        taken = codec.encode(event) is not None
        assert taken == (event.kind not in unsupported), event.kind


def test_declared_flags() -> None:
    caps = gemini.GEMINI_CAPABILITIES
    assert caps.session_resumption and caps.activity_signals and caps.manual_turns
    assert caps.server_vad and not caps.semantic_vad and caps.input_transcription
    assert caps.input_audio == ANY_AUDIO and caps.output_audio == ANY_AUDIO
    assert caps.live_modalities and caps.live_transcription and not caps.transcription_model


def test_a_transcription_model_name_is_no_change_gemini_is_asked_for() -> None:
    """Gemini transcribes with its own model: a named one is settled away, so an update that
    only names a model moves to no new socket."""
    old = SessionConfig(transcription=TranscriptionConfig())
    new = SessionConfig(transcription=TranscriptionConfig(model="whisper-1"))
    assert gemini.GEMINI_CAPABILITIES.settle_update(old, new) == old


@pytest.mark.parametrize(
    "new",
    [
        SessionConfig(instructions="new"),
        SessionConfig(tools=[ToolDefinition("t", "d", {"type": "object"})]),
        SessionConfig(voice=VoiceConfig("Puck")),
        SessionConfig(turn_detection=TurnDetection("manual")),
        SessionConfig(input_audio_format=AudioFormat.pcmu()),
        SessionConfig(modalities=["text"]),
        SessionConfig(transcription=TranscriptionConfig()),
    ],
)
def test_mid_session_changes_are_taken_by_moving_to_a_new_socket(new: SessionConfig) -> None:
    """Gemini takes a new setup on resumption; formats are resampled here."""
    assert gemini.GEMINI_CAPABILITIES.refuse_update(SessionConfig(), new, spoken=True) is None


def test_model_identity() -> None:
    model = gemini.realtime(api_key="k")
    assert model.provider == "gemini"
    assert model.model_id == gemini.DEFAULT_MODEL == "gemini-2.5-flash-native-audio-preview-12-2025"
    assert "secret-key" not in repr(gemini.realtime(api_key="secret-key"))


@pytest.mark.parametrize(
    ("code", "reason", "error_code", "resumable"),
    [
        (1007, "Request contains an invalid argument.", "invalid_argument", False),
        (
            1008,
            "Operation is not implemented, or supported, or enabled.",
            "policy_violation",
            False,
        ),
        (1011, "Internal error encountered.", "connection_lost", True),
        (1000, "", "connection_lost", True),
        (1006, "", "connection_lost", True),
        (None, "", "connection_lost", True),
    ],
)
def test_close_codes(code: int | None, reason: str, error_code: str, resumable: bool) -> None:
    outcome = describe_close(code, reason)
    assert outcome.error.code == error_code and outcome.error.fatal
    assert outcome.resumable is resumable
    if code is not None:
        assert str(code) in outcome.error.message
    assert reason in outcome.error.message


def test_close_reasons_are_redacted_and_setup_refusals_typed() -> None:
    outcome = describe_close(1007, "bad request ?key=AIzaSyA-1234567890abcdefghij")
    assert "AIzaSy" not in outcome.error.message
    assert isinstance(setup_refused(outcome), ConfigurationError)
    assert isinstance(setup_refused(describe_close(1011, "x")), HandshakeError)
    assert "during setup" in str(setup_refused(describe_close(1008, "no such model")))
