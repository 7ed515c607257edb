"""The xAI Grok Voice Agent codec: neutral events <-> xAI wire JSON, no I/O.

xAI speaks the OpenAI Realtime GA protocol with the differences in ``specs/xai_voice_agent_events``:
no ``session.type``; ``voice`` and ``turn_detection`` at the top of the session; text output as
``response.text.*``; the session opens with ``conversation.created``; input transcripts stream as
cumulative partials (``...input_audio_transcription.completed`` with ``status: in_progress``),
decoded here into ``transcript.input.delta`` increments. ``conversation.item.truncate`` is not
supported, so ``item.truncate`` encodes to ``None`` (as do ``activity.start`` / ``activity.end``).
"""

from __future__ import annotations

from typing import Final

from ...openai_wire.client_codec import OpenAIProtocolCodec
from ...openai_wire.dialect import XAI

__all__ = [
    "CODEC",
    "IGNORED_SERVER_TYPES",
    "decode_server",
    "decode_server_text",
    "encode_client",
    "encode_session",
    "is_known",
]

CODEC: Final = OpenAIProtocolCodec(XAI)
IGNORED_SERVER_TYPES: Final[frozenset[str]] = CODEC.ignored_types
"""xAI server types decoded to ``[]`` on purpose (reasons in ``openai_wire.client_codec``)."""

encode_client = CODEC.encode_client
encode_session = CODEC.encode_session
decode_server = CODEC.decode_server
decode_server_text = CODEC.decode_server_text
is_known = CODEC.is_known
