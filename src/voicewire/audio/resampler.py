"""Streaming sample-rate conversion of PCM16 with libsoxr."""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import soxr
from numpy.typing import NDArray

from .pcm import float_to_int16, pcm16_to_samples, samples_to_pcm16

__all__ = ["Resampler", "ResamplerQuality"]

ResamplerQuality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
"""libsoxr presets: quick (cubic), low, medium, high, very high."""

_INT16_SCALE: Final = np.float32(32768.0)


class Resampler:
    """Resample a stream of interleaved PCM16 chunk by chunk, keeping filter state between chunks.

    Chunks may be cut anywhere, even inside a sample: a trailing partial frame is carried over to
    the next :meth:`process` call. Output always holds whole frames. Call :meth:`flush` at the end
    of the stream to get the tail still inside the filter; the resampler is then ready for a new,
    unrelated stream.

    soxr runs in float32 rather than int16 because its int16 output path adds dither noise: a
    silent input would come out as ±1 LSB hiss, and chunked output would differ from one-shot
    output. With float32 both are exact, and rounding back to int16 is ours (with clipping).

    The default ``"HQ"`` quality is transparent for speech. soxr emits output in blocks, so it holds
    back roughly 20 ms on average (up to a few tens of ms, depending on the rates) until
    :meth:`flush`; ``"QQ"`` has almost no delay but audible aliasing.
    Equal rates bypass soxr entirely and only re-align frames.
    """

    def __init__(
        self,
        from_rate: int,
        to_rate: int,
        channels: int = 1,
        *,
        quality: ResamplerQuality = "HQ",
    ) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
        if channels <= 0:
            raise ValueError(f"channels must be positive, got {channels}")
        self.from_rate: Final = from_rate
        self.to_rate: Final = to_rate
        self.channels: Final = channels
        self.quality: Final = quality
        self._frame_bytes = 2 * channels
        self._carry = b""
        self._stream: soxr.ResampleStream | None = None
        if from_rate != to_rate:
            self._stream = soxr.ResampleStream(
                from_rate, to_rate, channels, dtype="float32", quality=quality
            )

    @property
    def passthrough(self) -> bool:
        """True when the rates are equal and soxr is not involved."""
        return self._stream is None

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete input frame held for the next call (0 .. frame size - 1)."""
        return len(self._carry)

    def process(self, pcm16: bytes) -> bytes:
        """Resample the next chunk; returns whatever output is ready (possibly nothing)."""
        data = self._carry + pcm16 if self._carry else pcm16
        usable = len(data) - len(data) % self._frame_bytes
        self._carry = bytes(data[usable:])
        if usable == 0:
            return b""
        if self._stream is None:
            return bytes(data[:usable])
        samples = pcm16_to_samples(data[:usable]).reshape(-1, self.channels)
        return samples_to_pcm16(self.process_samples(samples))

    def flush(self) -> bytes:
        """End the stream: return the resampler's remaining output and reset it.

        A carried partial frame cannot be resampled and is dropped.
        """
        self._carry = b""
        return samples_to_pcm16(self.flush_samples())

    def process_samples(self, samples: NDArray[np.int16]) -> NDArray[np.int16]:
        """Array form of :meth:`process`: int16 of shape ``(frames, channels)``, or ``(frames,)``
        when mono; the result has the same number of dimensions."""
        if samples.ndim == 2 and samples.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {samples.shape[1]}")
        if samples.ndim == 1 and self.channels != 1:
            raise ValueError(
                f"a 1-D array is mono, but this resampler has {self.channels} channels"
            )
        if self._stream is None:
            return samples
        if samples.shape[0] == 0:
            return samples.copy()
        out = self._stream.resample_chunk(samples.astype(np.float32) / _INT16_SCALE)
        return float_to_int16(out)

    def flush_samples(self) -> NDArray[np.int16]:
        """Array form of :meth:`flush` (``(frames, channels)``; carried bytes are dropped)."""
        self._carry = b""
        if self._stream is None:
            return np.zeros((0, self.channels), dtype=np.int16)
        tail = self._stream.resample_chunk(
            np.zeros((0, self.channels), dtype=np.float32), last=True
        )
        # soxr refuses input after last=True; clearing makes the resampler reusable.
        self._stream.clear()
        return float_to_int16(tail)

    def reset(self) -> None:
        """Discard buffered audio and filter state without producing output."""
        self._carry = b""
        if self._stream is not None:
            self._stream.clear()

    def __repr__(self) -> str:
        return (
            f"Resampler(from_rate={self.from_rate}, to_rate={self.to_rate}, "
            f"channels={self.channels}, quality={self.quality!r})"
        )
