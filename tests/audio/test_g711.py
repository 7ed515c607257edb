"""G.711 μ-law / A-law against the ITU reference behaviour (CPython's ``audioop``)."""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from voicewire.audio import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from voicewire.audio.g711 import ulaw_decode_samples, ulaw_encode_samples

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32).astype("<i2").tobytes()
ALL_CODES = bytes(range(256))


@pytest.fixture(scope="module")
def audioop() -> types.ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module: types.ModuleType = pytest.importorskip("audioop")
    return module


def samples(pcm16: bytes) -> NDArray[np.int64]:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.int64)


def test_ulaw_encode_matches_audioop_for_every_sample(audioop: types.ModuleType) -> None:
    assert pcm16_to_ulaw(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)


def test_ulaw_decode_matches_audioop_for_every_code(audioop: types.ModuleType) -> None:
    assert ulaw_to_pcm16(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_encode_matches_audioop_for_every_sample(audioop: types.ModuleType) -> None:
    assert pcm16_to_alaw(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


def test_alaw_decode_matches_audioop_for_every_code(audioop: types.ModuleType) -> None:
    assert alaw_to_pcm16(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


def test_known_code_points() -> None:
    # Silence: μ-law 0xFF (all bits inverted), A-law 0xD5 (even bits inverted, sign set).
    assert pcm16_to_ulaw(b"\x00\x00") == b"\xff"
    assert pcm16_to_alaw(b"\x00\x00") == b"\xd5"
    # Full scale: μ-law 0x80 / 0x00 (±32124), A-law 0xAA / 0x2A (±32256).
    extremes = np.array([32767, -32768], dtype="<i2").tobytes()
    assert pcm16_to_ulaw(extremes) == b"\x80\x00"
    assert pcm16_to_alaw(extremes) == b"\xaa\x2a"
    assert samples(ulaw_to_pcm16(b"\x80\x00")).tolist() == [32124, -32124]
    assert samples(alaw_to_pcm16(b"\xaa\x2a")).tolist() == [32256, -32256]


def test_ulaw_codes_round_trip_except_negative_zero() -> None:
    # 0x7F is μ-law's "negative zero"; it decodes to 0, which encodes as 0xFF.
    reencoded = pcm16_to_ulaw(ulaw_to_pcm16(ALL_CODES))
    mismatched = [code for code in range(256) if reencoded[code] != code]
    assert mismatched == [0x7F]


def test_alaw_codes_round_trip() -> None:
    assert pcm16_to_alaw(alaw_to_pcm16(ALL_CODES)) == ALL_CODES


@pytest.mark.parametrize(
    ("encode", "decode"), [(pcm16_to_ulaw, ulaw_to_pcm16), (pcm16_to_alaw, alaw_to_pcm16)]
)
def test_companding_keeps_a_tone_clean(
    encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes]
) -> None:
    t = np.arange(8000) / 8000
    tone = np.rint(0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    decoded = samples(decode(encode(tone.tobytes())))
    noise = (decoded - tone).astype(np.float64)
    snr_db = 10 * np.log10(np.sum(tone.astype(np.float64) ** 2) / np.sum(noise**2))
    assert len(decoded) == len(tone)
    assert snr_db > 35  # G.711 gives about 38 dB on a loud tone


def test_encode_is_monotonic_in_decoded_value() -> None:
    decoded = samples(ulaw_to_pcm16(pcm16_to_ulaw(ALL_SAMPLES)))
    assert np.all(np.diff(decoded) >= 0)
    decoded = samples(alaw_to_pcm16(pcm16_to_alaw(ALL_SAMPLES)))
    assert np.all(np.diff(decoded) >= 0)


def test_odd_pcm16_length_is_rejected() -> None:
    with pytest.raises(ValueError, match="2-byte samples"):
        pcm16_to_ulaw(b"\x00\x00\x00")
    with pytest.raises(ValueError, match="2-byte samples"):
        pcm16_to_alaw(b"\x00")


def test_array_forms_match_byte_forms_and_keep_shape() -> None:
    stereo = np.array([[1000, -1000], [32767, -32768], [0, 5]], dtype=np.int16)
    codes = ulaw_encode_samples(stereo)
    assert codes.shape == (3, 2)
    assert codes.tobytes() == pcm16_to_ulaw(stereo.astype("<i2").tobytes())
    assert ulaw_decode_samples(codes).astype("<i2").tobytes() == ulaw_to_pcm16(codes.tobytes())


def test_empty_input() -> None:
    assert pcm16_to_ulaw(b"") == b""
    assert ulaw_to_pcm16(b"") == b""
    assert pcm16_to_alaw(b"") == b""
    assert alaw_to_pcm16(b"") == b""
