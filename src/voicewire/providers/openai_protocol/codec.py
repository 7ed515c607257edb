"""Old home of the client codec, kept so existing imports work: see
:mod:`voicewire.openai_wire.client_codec`."""

from voicewire.openai_wire.client_codec import (
    CUMULATIVE_TRANSCRIPT,
    IGNORED_SERVER_TYPES,
    OpenAIProtocolCodec,
)

__all__ = ["CUMULATIVE_TRANSCRIPT", "IGNORED_SERVER_TYPES", "OpenAIProtocolCodec"]
