"""A session.update that restates what the model does is no change; a real change the model
cannot make live is refused with the field and why (output modalities, transcription)."""

from __future__ import annotations

from voicewire.protocol import RealtimeCapabilities, SessionConfig, TranscriptionConfig

FIXED = RealtimeCapabilities(
    live_modalities=False, live_transcription=False, transcription_model=False
)
ON = TranscriptionConfig(language="en")


def settle(old: SessionConfig, new: SessionConfig) -> SessionConfig:
    return FIXED.settle_update(old, new)


def test_audio_output_restates_the_default_and_text_only_is_a_change() -> None:
    old = SessionConfig()
    assert settle(old, SessionConfig(modalities=("audio",))) == old
    assert settle(old, SessionConfig(modalities=("audio", "text"))) == old
    text = SessionConfig(modalities=("text",))
    assert settle(old, text) == text
    assert FIXED.refuse_update(old, text, spoken=False) == (
        "modalities",
        "cannot change its output from audio to text mid-session (set modalities in the session "
        "config it connects with)",
    )
    assert RealtimeCapabilities().refuse_update(old, text, spoken=False) is None


def test_a_transcription_model_the_provider_cannot_choose_is_ignored() -> None:
    old = SessionConfig(transcription=ON)
    sdk = SessionConfig(transcription=TranscriptionConfig(model="gpt-4o-mini-transcribe"))
    assert settle(old, sdk) == old  # transcription is on: naming a model asks nothing new
    french = SessionConfig(transcription=TranscriptionConfig(model="whisper-1", language="fr"))
    settled = settle(old, french)
    assert settled.transcription == TranscriptionConfig(language="fr")  # the language is real
    assert FIXED.refuse_update(old, settled, spoken=False) is not None
    # A model that can choose keeps the name.
    assert RealtimeCapabilities().settle_update(old, sdk) == sdk


def test_turning_transcription_on_is_a_change_a_fixed_model_refuses() -> None:
    old = SessionConfig()
    settled = settle(old, SessionConfig(transcription=TranscriptionConfig(model="x")))
    assert settled.transcription == TranscriptionConfig()
    refused = FIXED.refuse_update(old, settled, spoken=False)
    assert refused is not None and refused[0] == "transcription"
