"""Base64 for audio payloads: providers carry audio as base64 text inside JSON events."""

from __future__ import annotations

import base64
import binascii

from ..protocol.errors import ProtocolError

__all__ = ["decode_base64", "encode_base64"]


def encode_base64(data: bytes) -> str:
    """Standard base64 (``+/``, padded) as text."""
    return base64.b64encode(data).decode("ascii")


def decode_base64(text: str) -> bytes:
    """Decode standard, padded base64 strictly.

    Anything outside the base64 alphabet (whitespace, ``-``/``_`` of the URL-safe variant, other
    junk) or wrong padding raises :class:`~voicewire.protocol.ProtocolError` rather than being
    skipped silently, since a corrupt audio payload should not turn into noise.
    """
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        preview = text[:32] + ("..." if len(text) > 32 else "")
        raise ProtocolError(
            f"invalid base64 audio payload ({len(text)} chars, starts {preview!r}): {exc}"
        ) from exc
