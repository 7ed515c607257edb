"""G.711 μ-law (``audio/pcmu``) and A-law (``audio/pcma``) codecs for little-endian PCM16 bytes.

Implemented from ITU-T G.711 in the same formulation as the classic Sun reference code (and
CPython's former ``audioop``): μ-law quantizes the sample's top 14 bits, A-law its top 13 bits.
All four conversions are single table lookups. The tables are built once, at import, with numpy:
256 entries to decode and 65536 to encode, indexed by the sample's bit pattern read as ``uint16``
(so a whole chunk encodes with one fancy-indexing operation and no arithmetic per sample).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "alaw_decode_samples",
    "alaw_encode_samples",
    "alaw_to_pcm16",
    "pcm16_to_alaw",
    "pcm16_to_ulaw",
    "ulaw_decode_samples",
    "ulaw_encode_samples",
    "ulaw_to_pcm16",
]

_QUANT_MASK: Final = 0x0F
_SEG_SHIFT: Final = 4
_SEG_MASK: Final = 0x70
_SIGN_BIT: Final = 0x80

_ULAW_BIAS: Final = 0x84
"""Added to the magnitude so every segment ends at a power of two minus one; 33 at 14 bits."""
_ULAW_CLIP: Final = 8159
"""Largest 14-bit magnitude μ-law can represent before the bias is added."""
_ULAW_SEG_END: Final = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_ALAW_SEG_END: Final = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)


def _all_samples() -> NDArray[np.int32]:
    """Every int16 value, positioned at the index of its ``uint16`` bit pattern."""
    return np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> NDArray[np.uint8]:
    pcm = _all_samples() >> 2  # 14-bit linear; arithmetic shift, as in the reference code
    mask = np.where(pcm < 0, 0x7F, 0xFF)  # μ-law transmits every bit inverted
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    # After clipping the biased magnitude is at most 8192 > 0x1FFF, which lands in segment 8.
    overflow = segment >= 8
    seg = np.minimum(segment, 7)
    code = (seg << _SEG_SHIFT) | ((magnitude >> (seg + 1)) & _QUANT_MASK)
    code = np.where(overflow, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode() -> NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    t = ((code & _QUANT_MASK) << 3) + _ULAW_BIAS
    t <<= (code & _SEG_MASK) >> _SEG_SHIFT
    return np.where(code & _SIGN_BIT, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _build_alaw_encode() -> NDArray[np.uint8]:
    pcm = _all_samples() >> 3  # 13-bit linear
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)  # A-law inverts the even bits; sign bit set = positive
    magnitude = np.where(negative, -pcm - 1, pcm)  # one's complement: no negative zero
    segment = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    overflow = segment >= 8
    seg = np.minimum(segment, 7)
    shift = np.where(seg < 2, 1, seg)
    code = (seg << _SEG_SHIFT) | ((magnitude >> shift) & _QUANT_MASK)
    code = np.where(overflow, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_decode() -> NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (code & _SEG_MASK) >> _SEG_SHIFT
    t = (code & _QUANT_MASK) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(code & _SIGN_BIT, t, -t).astype(np.int16)


_ULAW_ENCODE: Final = _build_ulaw_encode()
_ULAW_DECODE: Final = _build_ulaw_decode()
_ALAW_ENCODE: Final = _build_alaw_encode()
_ALAW_DECODE: Final = _build_alaw_decode()


def _pcm16_view(pcm16: bytes) -> NDArray[np.uint16]:
    if len(pcm16) % 2:
        raise ValueError(
            f"PCM16 audio must be a whole number of 2-byte samples, got {len(pcm16)} bytes"
        )
    return np.frombuffer(pcm16, dtype="<u2")


def ulaw_encode_samples(samples: NDArray[np.int16]) -> NDArray[np.uint8]:
    """μ-law codes for an int16 array of any shape."""
    return _ULAW_ENCODE[samples.view(np.uint16)]


def alaw_encode_samples(samples: NDArray[np.int16]) -> NDArray[np.uint8]:
    """A-law codes for an int16 array of any shape."""
    return _ALAW_ENCODE[samples.view(np.uint16)]


def ulaw_decode_samples(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    """int16 samples for an array of μ-law codes."""
    return _ULAW_DECODE[codes]


def alaw_decode_samples(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    """int16 samples for an array of A-law codes."""
    return _ALAW_DECODE[codes]


def pcm16_to_ulaw(pcm16: bytes) -> bytes:
    """Encode little-endian PCM16 to μ-law, one byte per sample."""
    return _ULAW_ENCODE[_pcm16_view(pcm16)].tobytes()


def pcm16_to_alaw(pcm16: bytes) -> bytes:
    """Encode little-endian PCM16 to A-law, one byte per sample."""
    return _ALAW_ENCODE[_pcm16_view(pcm16)].tobytes()


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode μ-law to little-endian PCM16, two bytes per sample."""
    return _ULAW_DECODE[np.frombuffer(ulaw, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_to_pcm16(alaw: bytes) -> bytes:
    """Decode A-law to little-endian PCM16, two bytes per sample."""
    return _ALAW_DECODE[np.frombuffer(alaw, dtype=np.uint8)].astype("<i2").tobytes()
