"""The model and the connection shared by providers that speak the OpenAI Realtime wire protocol
(OpenAI, xAI, a remote voicewire server): :mod:`.model`, :mod:`.connection` and :mod:`.endpoint`
(opening a socket, :mod:`voicewire.providers.dial`, and noticing a dead one,
:mod:`voicewire.providers.keepalive`, serve every socket provider). Providers differ only in data: a
:class:`~voicewire.openai_wire.dialect.Dialect` (the wire) and an
:class:`~.endpoint.Endpoint` (URLs, API key, auth subprotocols, pings); the wire itself, both
directions, is :mod:`voicewire.openai_wire` (``codec`` and ``dialect`` here are its old import
paths)."""
