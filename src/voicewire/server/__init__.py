"""The voicewire server: an agent served over the OpenAI Realtime protocol, keys kept here.

* :func:`create_app` — the ASGI app (Starlette): ``POST /realtime/credential`` and
  ``WS /v1/realtime``.
* :class:`TokenAuthority` — voicewire's own signed, short-lived tokens.
* :func:`decode_client` / :class:`ServerEventEncoder` — the sans-I/O server side of the wire
  (from :mod:`voicewire.openai_wire`, which the providers use for the client side).
* :func:`voicewire.server.workers.serve` — one app from several processes on one port.
"""

from ..openai_wire import (
    SERVED_CLIENT_TYPES,
    ClientEventError,
    ServerEventEncoder,
    client_event_id,
    decode_client,
)
from .app import VoicewireServer, create_app
from .relay import CLIENT_SESSION_FIELDS, Relay
from .security import OriginPolicy, RedactingFilter, install_log_redaction, redact
from .tokens import (
    TokenAudienceError,
    TokenAuthority,
    TokenClaims,
    TokenError,
    TokenExpiredError,
    TokenMalformedError,
    TokenReplayError,
    TokenSignatureError,
)

CLIENT_EVENT_TYPES = SERVED_CLIENT_TYPES
"""Old name of :data:`voicewire.openai_wire.SERVED_CLIENT_TYPES` (GA ``type`` strings served)."""

__all__ = [
    "CLIENT_EVENT_TYPES",
    "CLIENT_SESSION_FIELDS",
    "SERVED_CLIENT_TYPES",
    "ClientEventError",
    "OriginPolicy",
    "RedactingFilter",
    "Relay",
    "ServerEventEncoder",
    "TokenAudienceError",
    "TokenAuthority",
    "TokenClaims",
    "TokenError",
    "TokenExpiredError",
    "TokenMalformedError",
    "TokenReplayError",
    "TokenSignatureError",
    "VoicewireServer",
    "client_event_id",
    "create_app",
    "decode_client",
    "install_log_redaction",
    "redact",
]
