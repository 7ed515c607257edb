"""PCM16 ↔ float, level meters and base64 payloads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voicewire.audio import (
    decode_base64,
    encode_base64,
    float_to_pcm16,
    pcm16_to_float,
    pcm16_to_samples,
    peak_level,
    rms_level,
    samples_to_pcm16,
)
from voicewire.protocol import ProtocolError


def pcm(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def test_pcm16_to_float_scale_and_dtype() -> None:
    out = pcm16_to_float(pcm(-32768, -16384, 0, 16384, 32767))
    assert out.dtype == np.float32
    assert out.tolist() == [-1.0, -0.5, 0.0, 0.5, 32767 / 32768]


def test_pcm16_is_little_endian() -> None:
    assert pcm16_to_float(b"\x00\x40").tolist() == [0.5]
    assert float_to_pcm16([0.5]) == b"\x00\x40"


def test_every_pcm16_value_round_trips_through_float() -> None:
    every = np.arange(-32768, 32768, dtype=np.int32).astype("<i2").tobytes()
    as_float = pcm16_to_float(every)
    assert as_float.min() == -1.0
    assert as_float.max() < 1.0
    assert float_to_pcm16(as_float) == every


def test_float_to_pcm16_clips_rounds_and_zeroes_nan() -> None:
    values = [2.0, -2.0, 1.0, -1.0, 1.4 / 32768, 1.6 / 32768, math.nan, math.inf, -math.inf]
    out = pcm16_to_samples(float_to_pcm16(np.array(values, dtype=np.float32)))
    assert out.tolist() == [32767, -32768, 32767, -32768, 1, 2, 0, 32767, -32768]


def test_float_to_pcm16_does_not_wrap_slightly_over_full_scale() -> None:
    out = pcm16_to_samples(float_to_pcm16([1.0001, 0.99999, -1.0001]))
    assert out.tolist() == [32767, 32767, -32768]


def test_odd_byte_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="got 3 bytes"):
        pcm16_to_float(b"\x00\x00\x00")


def test_samples_round_trip_keeps_interleaving() -> None:
    stereo = np.array([[1, -2], [300, -400]], dtype=np.int16)
    data = samples_to_pcm16(stereo)
    assert data == pcm(1, -2, 300, -400)
    assert pcm16_to_samples(data).reshape(-1, 2).tolist() == stereo.tolist()


def test_levels_of_silence_and_empty() -> None:
    assert rms_level(b"") == 0.0
    assert peak_level(b"") == 0.0
    assert rms_level(pcm(0, 0, 0)) == 0.0
    assert peak_level(pcm(0, 0, 0)) == 0.0


def test_levels_of_full_scale_square() -> None:
    square = pcm(*([-32768] * 50 + [32767] * 50))
    assert peak_level(square) == 1.0
    assert rms_level(square) == pytest.approx(1.0, abs=1e-4)
    assert rms_level(square) <= 1.0


def test_levels_of_a_half_scale_sine() -> None:
    t = np.arange(24000) / 24000
    sine = float_to_pcm16(0.5 * np.sin(2 * np.pi * 440 * t))
    assert peak_level(sine) == pytest.approx(0.5, abs=1e-3)
    assert rms_level(sine) == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)


def test_peak_uses_absolute_value_without_overflow() -> None:
    # abs(-32768) overflows int16; the level must still be 1.0, not negative.
    assert peak_level(pcm(100, -32768, 200)) == 1.0
    assert peak_level(pcm(-16384, 100)) == 0.5


def test_base64_round_trip() -> None:
    data = bytes(range(256)) * 3
    text = encode_base64(data)
    assert isinstance(text, str)
    assert text.startswith("AAECAwQF")
    assert decode_base64(text) == data
    assert decode_base64("") == b""


@pytest.mark.parametrize(
    "bad",
    [
        "not base64!",  # characters outside the alphabet
        "AAEC\nAwQF",  # embedded newline
        "AAE",  # missing padding
        "-_-_",  # URL-safe alphabet
    ],
)
def test_invalid_base64_raises_protocol_error(bad: str) -> None:
    with pytest.raises(ProtocolError, match="invalid base64 audio payload") as caught:
        decode_base64(bad)
    assert caught.value.code == "protocol_error"
    assert repr(bad[:32]) in str(caught.value)


def test_invalid_base64_message_is_bounded_for_huge_payloads() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_base64("A" * 100_000 + "!")
    assert len(str(caught.value)) < 300
    assert "100001 chars" in str(caught.value)
