"""PCM16 (little-endian signed 16-bit) as numpy arrays, and level measurements on it."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "float_to_int16",
    "float_to_pcm16",
    "pcm16_to_float",
    "pcm16_to_samples",
    "peak_level",
    "rms_level",
    "samples_to_pcm16",
]

_FULL_SCALE: Final = 32768.0
"""int16 ↔ float scale. Dividing by 32768 maps every int16 into [-1, 1) and makes the round trip
PCM16 → float → PCM16 exact; +1.0 clips to 32767."""


def pcm16_to_samples(pcm16: bytes) -> NDArray[np.int16]:
    """A read-only int16 view of little-endian PCM16 bytes (a copy only on big-endian hosts)."""
    if len(pcm16) % 2:
        raise ValueError(
            f"PCM16 audio must be a whole number of 2-byte samples, got {len(pcm16)} bytes"
        )
    return np.frombuffer(pcm16, dtype="<i2").astype(np.int16, copy=False)


def samples_to_pcm16(samples: NDArray[np.int16]) -> bytes:
    """Little-endian PCM16 bytes of an int16 array (multi-channel arrays: frames × channels)."""
    return samples.astype("<i2", copy=False).tobytes()


def pcm16_to_float(pcm16: bytes) -> NDArray[np.float32]:
    """Samples as float32 in [-1, 1): ``sample / 32768``. Interleaved channels stay interleaved."""
    return pcm16_to_samples(pcm16).astype(np.float32) / np.float32(_FULL_SCALE)


def float_to_int16(samples: ArrayLike) -> NDArray[np.int16]:
    """Round float samples (nominally [-1, 1]) to int16, clipping what lies outside; NaN → 0."""
    values = np.nan_to_num(np.asarray(samples, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(np.clip(values, -1.0, 1.0) * _FULL_SCALE)
    # +1.0 scales to 32768, one past the int16 maximum.
    return np.minimum(scaled, 32767.0).astype(np.int16)


def float_to_pcm16(samples: ArrayLike) -> bytes:
    """Little-endian PCM16 of float samples in [-1, 1]; values outside are clipped, NaN is 0."""
    return samples_to_pcm16(float_to_int16(samples))


def rms_level(pcm16: bytes) -> float:
    """Root-mean-square level in [0, 1] (1.0 = full-scale square wave; 0.0 for no audio).

    A full-scale sine measures about 0.707 (-3 dBFS); ``20 * log10(level)`` gives dBFS.
    """
    samples = pcm16_to_samples(pcm16)
    if samples.size == 0:
        return 0.0
    as_float = samples.astype(np.float64)
    return min(1.0, float(np.sqrt(np.mean(as_float * as_float))) / _FULL_SCALE)


def peak_level(pcm16: bytes) -> float:
    """Largest absolute sample in [0, 1] (-32768 counts as 1.0); 0.0 for no audio."""
    samples = pcm16_to_samples(pcm16)
    if samples.size == 0:
        return 0.0
    return float(np.max(np.abs(samples.astype(np.int32)))) / _FULL_SCALE
