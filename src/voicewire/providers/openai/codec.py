"""The OpenAI Realtime GA codec: neutral events <-> OpenAI wire JSON, no I/O.

``encode_client(event)`` gives the JSON object to send (``None`` when OpenAI cannot express the
event: ``activity.start`` / ``activity.end``); ``decode_server(message)`` gives the neutral events
for one parsed server message. Both are bound to :data:`CODEC`, which is safe to share.
"""

from __future__ import annotations

from typing import Final

from ...openai_wire.client_codec import OpenAIProtocolCodec
from ...openai_wire.dialect import OPENAI

__all__ = [
    "CODEC",
    "IGNORED_SERVER_TYPES",
    "decode_server",
    "decode_server_text",
    "encode_client",
    "encode_session",
    "is_known",
]

CODEC: Final = OpenAIProtocolCodec(OPENAI)
IGNORED_SERVER_TYPES: Final[frozenset[str]] = CODEC.ignored_types
"""OpenAI server types decoded to ``[]`` on purpose (reasons in ``openai_wire.client_codec``)."""

encode_client = CODEC.encode_client
encode_session = CODEC.encode_session
decode_server = CODEC.decode_server
decode_server_text = CODEC.decode_server_text
is_known = CODEC.is_known
