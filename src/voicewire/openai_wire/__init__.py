"""The OpenAI Realtime wire, both directions, sans I/O.

One package serves both ends of the protocol, as websockets' client and server share one frames
module: the providers (OpenAI, xAI, a remote voicewire server) encode client events and decode
server events with it; the voicewire server decodes client events and encodes server events.

* :mod:`.fields` — reading JSON fields with errors that name the event and the field.
* :mod:`.dialect` — what differs between providers of this wire (OpenAI GA, xAI), as data.
* :mod:`.items` — conversation items, written and read on both sides (the client reads a
  provider's items leniently, the server a client's strictly; the module says why).
* :mod:`.usage` — token usage; :mod:`.formats` — audio formats.
* :mod:`.session_encode` / :mod:`.session_decode` — the ``session`` object, written / read.
* :mod:`.client_codec` — the client side: ``encode_client`` and ``decode_server``
  (:mod:`.client_encoder` holds the encoders it dispatches client events to).
* :mod:`.server_decoder` — the server side reading client frames (:func:`decode_client`).
* :mod:`.server_encoder` — the server side writing server events (:class:`ServerEventEncoder`).
"""

from .client_codec import IGNORED_SERVER_TYPES, OpenAIProtocolCodec
from .dialect import OPENAI, XAI, Dialect
from .fields import ClientEventError
from .server_decoder import (
    SERVED_CLIENT_TYPES,
    ItemRetrieve,
    WireEvent,
    client_event_id,
    decode_client,
)
from .server_encoder import ServerEventEncoder

__all__ = [
    "IGNORED_SERVER_TYPES",
    "OPENAI",
    "SERVED_CLIENT_TYPES",
    "XAI",
    "ClientEventError",
    "Dialect",
    "ItemRetrieve",
    "OpenAIProtocolCodec",
    "ServerEventEncoder",
    "WireEvent",
    "client_event_id",
    "decode_client",
]
