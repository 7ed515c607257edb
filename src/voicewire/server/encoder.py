"""Old home of the server event encoder, kept so existing imports work: see
:mod:`voicewire.openai_wire.server_encoder`."""

from voicewire.openai_wire.server_encoder import Message, ServerEventEncoder

__all__ = ["Message", "ServerEventEncoder"]
