"""Audio plumbing for realtime voice: PCM16/float conversion, G.711, resampling, format conversion.

Everything works on raw little-endian PCM16 ``bytes`` (or G.711 bytes), the form audio has on the
wire; the streaming classes (:class:`Resampler`, :class:`AudioConverter`) accept chunks cut at any
byte boundary.
"""

from .base64_codec import decode_base64, encode_base64
from .converter import AudioConverter, remix_channels
from .duration import bytes_to_ms, frame_bytes, ms_to_bytes
from .g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from .pcm import (
    float_to_pcm16,
    pcm16_to_float,
    pcm16_to_samples,
    peak_level,
    rms_level,
    samples_to_pcm16,
)
from .resampler import Resampler, ResamplerQuality

__all__ = [
    "AudioConverter",
    "Resampler",
    "ResamplerQuality",
    "alaw_to_pcm16",
    "bytes_to_ms",
    "decode_base64",
    "encode_base64",
    "float_to_pcm16",
    "frame_bytes",
    "ms_to_bytes",
    "pcm16_to_alaw",
    "pcm16_to_float",
    "pcm16_to_samples",
    "pcm16_to_ulaw",
    "peak_level",
    "remix_channels",
    "rms_level",
    "samples_to_pcm16",
    "ulaw_to_pcm16",
]
