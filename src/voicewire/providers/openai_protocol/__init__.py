"""The model and the connection shared by providers that speak the OpenAI Realtime wire protocol
(OpenAI, xAI, a remote voicewire server): :mod:`.model`, :mod:`.connection`, :mod:`.dial` (opening
the socket) and :mod:`.keepalive`. Providers differ only in a
:class:`~voicewire.openai_wire.dialect.Dialect`; the wire itself, both directions, is
:mod:`voicewire.openai_wire` (``codec`` and ``dialect`` here are its old import paths)."""
