"""Streaming conversion between any two :class:`~voicewire.protocol.AudioFormat` values."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from ..protocol.config import AudioFormat
from .duration import frame_bytes
from .g711 import (
    alaw_decode_samples,
    alaw_encode_samples,
    ulaw_decode_samples,
    ulaw_encode_samples,
)
from .pcm import pcm16_to_samples, samples_to_pcm16
from .resampler import Resampler, ResamplerQuality

__all__ = ["AudioConverter", "remix_channels"]


def remix_channels(samples: NDArray[np.int16], channels: int) -> NDArray[np.int16]:
    """Map ``(frames, n)`` int16 audio to ``(frames, channels)``.

    Fewer channels: output channel ``j`` is the average of input channels ``i`` with
    ``i % channels == j`` (so anything → mono is the plain average). More channels: output channel
    ``j`` copies input channel ``j % n`` (mono is duplicated everywhere, stereo becomes L R L R).
    """
    have = samples.shape[1]
    if have == channels:
        return samples
    if channels > have:
        return samples[:, np.arange(channels) % have]
    total = np.zeros((samples.shape[0], channels), dtype=np.int32)
    counts = np.zeros(channels, dtype=np.int32)
    for i in range(have):
        total[:, i % channels] += samples[:, i]
        counts[i % channels] += 1
    # The mean of int16 values is within int16 range; rint rounds half to even.
    return np.rint(total / counts).astype(np.int16)


class AudioConverter:
    """Convert a stream of audio chunks from ``src`` to ``dst`` format.

    Per chunk: decode G.711 to PCM16 if ``src`` is G.711, remix channels (see
    :func:`remix_channels`), resample with a streaming :class:`Resampler`, then encode to G.711 if
    ``dst`` is G.711. When ``src`` and ``dst`` describe the same audio (same encoding, rate and
    channels; MIME aliases such as ``audio/x-mulaw`` and ``audio/pcmu`` count as the same) chunks
    are returned untouched.

    Chunks need not be frame-aligned: a trailing partial frame is carried into the next call, and
    dropped by :meth:`flush`. After :meth:`flush` the converter is ready for a new stream.
    """

    def __init__(
        self, src: AudioFormat, dst: AudioFormat, *, quality: ResamplerQuality = "HQ"
    ) -> None:
        self.src: Final = src
        self.dst: Final = dst
        self._identity = (src.encoding, src.sample_rate, src.channels) == (
            dst.encoding,
            dst.sample_rate,
            dst.channels,
        )
        self._src_frame = frame_bytes(src)
        # Resample with the fewer channels: mix down before, copy up after.
        self._mid_channels = min(src.channels, dst.channels)
        self._resampler = Resampler(
            src.sample_rate, dst.sample_rate, self._mid_channels, quality=quality
        )
        self._carry = b""

    @property
    def passthrough(self) -> bool:
        """True when ``src`` and ``dst`` are the same audio format and chunks pass untouched."""
        return self._identity

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete source frame held for the next call."""
        return len(self._carry)

    def convert(self, chunk: bytes) -> bytes:
        """Convert the next chunk; returns the output ready so far (possibly empty)."""
        if self._identity:
            return chunk
        data = self._carry + chunk if self._carry else chunk
        usable = len(data) - len(data) % self._src_frame
        self._carry = bytes(data[usable:])
        if usable == 0:
            return b""
        samples = remix_channels(self._decode(data[:usable]), self._mid_channels)
        return self._encode(self._resampler.process_samples(samples))

    def flush(self) -> bytes:
        """End the stream: return the resampler's tail, drop any partial frame, reset state."""
        self._carry = b""
        if self._identity:
            return b""
        return self._encode(self._resampler.flush_samples())

    def reset(self) -> None:
        """Discard buffered audio and resampler state without producing output."""
        self._carry = b""
        self._resampler.reset()

    def _decode(self, data: bytes) -> NDArray[np.int16]:
        """Whole frames of ``src`` audio as int16 of shape ``(frames, src.channels)``."""
        encoding = self.src.encoding
        if encoding == "pcm16":
            samples = pcm16_to_samples(data)
        else:
            codes = np.frombuffer(data, dtype=np.uint8)
            if encoding == "pcmu":
                samples = ulaw_decode_samples(codes)
            else:
                samples = alaw_decode_samples(codes)
        return samples.reshape(-1, self.src.channels)

    def _encode(self, samples: NDArray[np.int16]) -> bytes:
        """``(frames, mid channels)`` int16 audio as ``dst`` bytes."""
        if samples.shape[0] == 0:
            return b""
        samples = remix_channels(samples, self.dst.channels)
        encoding = self.dst.encoding
        if encoding == "pcm16":
            return samples_to_pcm16(samples)
        if encoding == "pcmu":
            return ulaw_encode_samples(samples).tobytes()
        return alaw_encode_samples(samples).tobytes()

    def __repr__(self) -> str:
        return f"AudioConverter(src={self.src!r}, dst={self.dst!r})"
