"""The energy VAD both fakes share: frames, padding, silence, commit and clear."""

from __future__ import annotations

from voicewire.testing import silence, tone
from voicewire.testing.energy_vad import EnergyVad, SpeechStart, SpeechStop, VadSettings

RATE = 24000
THRESHOLD = 0.02


def _feed(vad: EnergyVad, pcm: bytes, settings: VadSettings | None = None) -> list[object]:
    return list(vad.feed(pcm, RATE, THRESHOLD, settings or VadSettings()))


def test_speech_starts_padded_and_stops_after_the_silence() -> None:
    vad = EnergyVad()
    heard = _feed(vad, silence(500) + tone(300) + silence(250))
    assert heard == [SpeechStart(200), SpeechStop(1000)]
    assert vad.input_ms == 1050
    assert not vad.speaking


def test_the_padded_start_is_never_before_the_uncommitted_buffer() -> None:
    vad = EnergyVad()
    assert _feed(vad, silence(100)) == []
    vad.commit()
    assert _feed(vad, silence(100) + tone(100)) == [SpeechStart(100)]


def test_an_explicit_zero_is_honoured() -> None:
    vad = EnergyVad()
    settings = VadSettings(silence_duration_ms=0, prefix_padding_ms=0)
    assert _feed(vad, silence(50) + tone(20) + silence(10), settings) == [
        SpeechStart(50),
        SpeechStop(80),
    ]


def test_frames_are_counted_with_detection_off_and_partial_frames_wait() -> None:
    vad = EnergyVad()
    assert list(vad.feed(tone(105), RATE, THRESHOLD, None)) == []
    assert vad.input_ms == 100 and vad.pending_ms == 100 and not vad.speaking
    assert list(vad.feed(tone(5), RATE, THRESHOLD, None)) == []
    assert vad.input_ms == 110


def test_commit_ends_speech_and_returns_what_it_took() -> None:
    vad = EnergyVad()
    assert _feed(vad, tone(100)) == [SpeechStart(0)]
    vad.speech_item_id = "item_1"
    assert vad.commit() == 100
    assert not vad.speaking and vad.speech_item_id is None and vad.pending_ms == 0
    assert _feed(vad, tone(10)) == [SpeechStart(100)]


def test_clear_drops_the_partial_frame() -> None:
    vad = EnergyVad()
    _feed(vad, tone(15))
    vad.clear()
    assert vad.pending_ms == 0 and not vad.speaking
    _feed(vad, silence(5))
    assert vad.input_ms == 10  # the 5 ms left over before the clear are gone


def test_frames_last_their_real_duration() -> None:
    vad = EnergyVad()
    list(vad.feed(silence(1000, sample_rate=22050), 22050, THRESHOLD, None))
    assert 990 < vad.input_ms < 1000  # 220-sample frames of 9.977 ms
