"""The model and the connection shared by providers that speak the OpenAI Realtime wire protocol
(OpenAI, xAI, a remote voicewire server): :mod:`.model`, :mod:`.connection`, :mod:`.dial` (opening
the socket), :mod:`.keepalive` and :mod:`.endpoint`. Providers differ only in data: a
:class:`~voicewire.openai_wire.dialect.Dialect` (the wire) and an
:class:`~.endpoint.Endpoint` (URLs, API key, auth subprotocols, pings); the wire itself, both
directions, is :mod:`voicewire.openai_wire` (``codec`` and ``dialect`` here are its old import
paths)."""
