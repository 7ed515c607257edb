"""Sizes and durations per AudioFormat."""

from __future__ import annotations

import pytest

from voicewire.audio import bytes_to_ms, frame_bytes, ms_to_bytes
from voicewire.protocol import AudioFormat


def test_frame_bytes() -> None:
    assert frame_bytes(AudioFormat.pcm16(24000)) == 2
    assert frame_bytes(AudioFormat.pcm16(48000, channels=2)) == 4
    assert frame_bytes(AudioFormat.pcmu()) == 1
    assert frame_bytes(AudioFormat.pcma()) == 1


@pytest.mark.parametrize(
    ("fmt", "n_bytes", "ms"),
    [
        (AudioFormat.pcm16(24000), 48000, 1000.0),
        (AudioFormat.pcm16(24000), 960, 20.0),
        (AudioFormat.pcm16(16000), 320, 10.0),
        (AudioFormat.pcm16(48000, channels=2), 3840, 20.0),
        (AudioFormat.pcmu(), 160, 20.0),
        (AudioFormat.pcma(), 8000, 1000.0),
    ],
)
def test_bytes_and_ms_agree(fmt: AudioFormat, n_bytes: int, ms: float) -> None:
    assert bytes_to_ms(n_bytes, fmt) == pytest.approx(ms)
    assert ms_to_bytes(ms, fmt) == n_bytes


def test_bytes_to_ms_is_fractional() -> None:
    assert bytes_to_ms(3, AudioFormat.pcmu()) == pytest.approx(0.375)
    assert bytes_to_ms(0, AudioFormat.pcm16()) == 0.0


def test_ms_to_bytes_rounds_down_to_whole_frames() -> None:
    # 10 ms at 22.05 kHz is 220.5 frames: 220 frames, never half a sample.
    assert ms_to_bytes(10, AudioFormat.pcm16(22050)) == 440
    assert ms_to_bytes(10, AudioFormat.pcm16(22050, channels=2)) == 880
    # 0.1 ms at 24 kHz is 2.4 frames -> 2 frames of 2 bytes.
    assert ms_to_bytes(0.1, AudioFormat.pcm16(24000)) == 4
    # Stereo 44.1 kHz: 1 ms is 44.1 frames -> 44 frames of 4 bytes, a multiple of the frame size.
    assert ms_to_bytes(1, AudioFormat.pcm16(44100, channels=2)) == 176


def test_ms_to_bytes_absorbs_float_error() -> None:
    ms = 0.7 - 0.4  # 0.29999999999999993, i.e. 3 frames at 10 kHz up to float error
    assert ms_to_bytes(ms, AudioFormat.pcm16(10000)) == 6


def test_ms_to_bytes_never_exceeds_the_duration() -> None:
    fmt = AudioFormat.pcm16(44100, channels=2)
    for ms in (0.5, 1, 3.3, 7, 10, 20, 33.3):
        n = ms_to_bytes(ms, fmt)
        assert n % frame_bytes(fmt) == 0
        assert bytes_to_ms(n, fmt) <= ms
        assert bytes_to_ms(n + frame_bytes(fmt), fmt) > ms


@pytest.mark.parametrize("ms", [-1.0, float("nan"), float("inf")])
def test_ms_to_bytes_rejects_nonsense(ms: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ms_to_bytes(ms, AudioFormat.pcm16())


def test_bytes_to_ms_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        bytes_to_ms(-2, AudioFormat.pcm16())
