"""Durations and sizes of audio in a given :class:`~voicewire.protocol.AudioFormat`."""

from __future__ import annotations

import math

from ..protocol.config import AudioFormat

__all__ = ["bytes_to_ms", "frame_bytes", "ms_to_bytes"]


def frame_bytes(fmt: AudioFormat) -> int:
    """Bytes in one frame: one sample of every channel (PCM16 mono 2, stereo 4; G.711 mono 1)."""
    return fmt.bits // 8 * fmt.channels


def bytes_to_ms(n_bytes: int, fmt: AudioFormat) -> float:
    """Duration in milliseconds of ``n_bytes`` of audio in ``fmt``."""
    if n_bytes < 0:
        raise ValueError(f"n_bytes must not be negative, got {n_bytes}")
    return n_bytes * 1000.0 / fmt.bytes_per_second


def ms_to_bytes(ms: float, fmt: AudioFormat) -> int:
    """Bytes in ``ms`` milliseconds of ``fmt``, rounded down to whole frames.

    Rounding down means a chunk of this size never lasts longer than asked, and never splits a
    sample or a frame (44.1 kHz has no whole number of samples in 10 ms, for instance).
    """
    if ms < 0 or not math.isfinite(ms):
        raise ValueError(f"ms must be a finite, non-negative number, got {ms}")
    # The epsilon absorbs float error such as 0.1 * 3 -> 0.30000000000000004 going the other way.
    frames = math.floor(ms * fmt.sample_rate / 1000.0 + 1e-9)
    return frames * frame_bytes(fmt)
