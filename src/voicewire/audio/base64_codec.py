"""Base64 for audio payloads: providers carry audio as base64 text inside JSON events.

The implementation lives in :mod:`voicewire.protocol.base64_audio`, where the protocol's own
events use it; it is re-exported here with the rest of the audio plumbing.
"""

from __future__ import annotations

from ..protocol.base64_audio import decode_base64, encode_base64

__all__ = ["decode_base64", "encode_base64"]
