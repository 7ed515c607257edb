"""Deterministic test audio: tones, silence, loudness, and the wire audio formats.

Everything here is pure and dependency-light (numpy only) so that the fake server and tests can
produce and inspect audio without voicewire's own audio module.

PCM16 means signed 16-bit little-endian mono samples. The Realtime wire formats are described by
the session's ``audio.*.format`` objects: ``{"type": "audio/pcm", "rate": 24000}``,
``{"type": "audio/pcmu"}`` (G.711 mu-law, 8 kHz) and ``{"type": "audio/pcma"}`` (G.711 A-law,
8 kHz).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from voicewire.protocol.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

__all__ = [
    "DEFAULT_RATE",
    "alaw_to_pcm16",
    "decode_audio",
    "encode_audio",
    "format_rate",
    "mulaw_to_pcm16",
    "pcm16_to_alaw",
    "pcm16_to_mulaw",
    "rms",
    "silence",
    "tone",
]

DEFAULT_RATE = 24000
"""The OpenAI Realtime PCM rate."""

_G711_RATE = 8000


def tone(
    duration_ms: float,
    *,
    sample_rate: int = DEFAULT_RATE,
    frequency: float = 440.0,
    amplitude: float = 0.3,
) -> bytes:
    """A sine tone as PCM16 mono; the same arguments always give the same bytes.

    ``amplitude`` is a fraction of full scale (0..1). The default (0.3, RMS about 0.21) counts as
    speech for the fake server's energy VAD.
    """
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError("amplitude must be within 0..1")
    count = max(0, round(sample_rate * duration_ms / 1000))
    t = np.arange(count, dtype=np.float64) / sample_rate
    wave = amplitude * np.sin(2.0 * np.pi * frequency * t)
    return (wave * 32767.0).round().astype("<i2").tobytes()


def silence(duration_ms: float, *, sample_rate: int = DEFAULT_RATE) -> bytes:
    """Digital silence as PCM16 mono."""
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    return bytes(2 * max(0, round(sample_rate * duration_ms / 1000)))


def rms(pcm16: bytes) -> float:
    """Root-mean-square level of PCM16 audio as a fraction of full scale (0.0 for no samples)."""
    samples = _samples(pcm16)
    if samples.size == 0:
        return 0.0
    level = np.sqrt(np.mean(np.square(samples.astype(np.float64))))
    return float(level / 32768.0)


# --- G.711 -----------------------------------------------------------------------------------

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def pcm16_to_mulaw(pcm16: bytes) -> bytes:
    """Encode PCM16 to G.711 mu-law, one byte per sample."""
    x = _samples(pcm16).astype(np.int32)
    sign = (x < 0).astype(np.int32)
    magnitude = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded: npt.NDArray[np.int32] = ~((sign << 7) | (exponent << 4) | mantissa) & 0xFF
    return encoded.astype(np.uint8).tobytes()


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 mu-law to PCM16."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    pcm = np.where((u & 0x80) != 0, -magnitude, magnitude)
    return pcm.astype("<i2").tobytes()


def pcm16_to_alaw(pcm16: bytes) -> bytes:
    """Encode PCM16 to G.711 A-law, one byte per sample."""
    value = _samples(pcm16).astype(np.int32) >> 3
    positive = value >= 0
    mask = np.where(positive, 0xD5, 0x55)
    value = np.where(positive, value, -value - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, value, side="left").astype(np.int32)
    shift = np.where(segment < 2, 1, segment)
    low = (value >> np.minimum(shift, 7)) & 0x0F
    encoded = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | low)
    return ((encoded ^ mask) & 0xFF).astype(np.uint8).tobytes()


def alaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 A-law to PCM16."""
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    t = np.where(segment == 0, t + 8, t + 0x108)
    t = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    pcm = np.where((a & 0x80) != 0, t, -t)
    return pcm.astype("<i2").tobytes()


# --- wire formats ----------------------------------------------------------------------------


def format_rate(fmt: Mapping[str, Any] | None) -> int:
    """Sample rate of a Realtime audio format object (G.711 is always 8 kHz)."""
    if not fmt:
        return DEFAULT_RATE
    kind = fmt.get("type", "audio/pcm")
    if kind in ("audio/pcmu", "audio/pcma"):
        return _G711_RATE
    rate = fmt.get("rate", DEFAULT_RATE)
    # Out-of-range rates (a schema violation the fake server records) fall back to the default:
    # a 10**12 Hz "rate" must not make a tone of 10**12 samples.
    in_range = isinstance(rate, int) and MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE
    return rate if in_range else DEFAULT_RATE


def encode_audio(pcm16: bytes, fmt: Mapping[str, Any] | None) -> bytes:
    """Encode PCM16 (already at :func:`format_rate`) into the wire format ``fmt``."""
    kind = (fmt or {}).get("type", "audio/pcm")
    if kind == "audio/pcmu":
        return pcm16_to_mulaw(pcm16)
    if kind == "audio/pcma":
        return pcm16_to_alaw(pcm16)
    return pcm16


def decode_audio(data: bytes, fmt: Mapping[str, Any] | None) -> bytes:
    """Decode wire audio in format ``fmt`` to PCM16 (a trailing odd PCM byte is dropped)."""
    kind = (fmt or {}).get("type", "audio/pcm")
    if kind == "audio/pcmu":
        return mulaw_to_pcm16(data)
    if kind == "audio/pcma":
        return alaw_to_pcm16(data)
    return data[: len(data) - len(data) % 2]


def bytes_per_sample(fmt: Mapping[str, Any] | None) -> int:
    """Bytes per sample on the wire: 1 for G.711, 2 for PCM16."""
    kind = (fmt or {}).get("type", "audio/pcm")
    return 1 if kind in ("audio/pcmu", "audio/pcma") else 2


def _samples(pcm16: bytes) -> npt.NDArray[np.int16]:
    usable = len(pcm16) - len(pcm16) % 2
    return np.frombuffer(pcm16[:usable], dtype="<i2")
