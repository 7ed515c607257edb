"""One live WebSocket link to a model that speaks the OpenAI Realtime protocol.

The connection is the provider-neutral
:class:`~voicewire.providers.codec_connection.CodecConnection` (a thin asyncio shell around a
sans-I/O codec, shared with ElevenLabs Agents); this module keeps the name and import path
OpenAI-protocol code has always used.
"""

from __future__ import annotations

from ..codec_connection import Codec, CodecConnection, describe_close

__all__ = ["Codec", "OpenAIProtocolConnection", "describe_close"]


class OpenAIProtocolConnection(CodecConnection):
    """A :class:`~voicewire.protocol.RealtimeConnection` over an open socket, speaking the OpenAI
    Realtime protocol through an :class:`~voicewire.openai_wire.client_codec.OpenAIProtocolCodec`
    (which never replies to the server nor synthesizes acknowledgements).

    ``resume_handle`` is the resume handle a voicewire server gave the link (its
    ``X-Voicewire-Resume-Handle`` upgrade header), if any: a session reconnects with it (see
    :mod:`voicewire.server.resume`). OpenAI itself sends none."""

    resume_handle: str | None = None
