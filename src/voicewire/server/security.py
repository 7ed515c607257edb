"""Who may connect: credentials from the handshake, the Origin allow-list, and log redaction."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from contextvars import ContextVar
from typing import Final
from urllib.parse import urlsplit

from ..redaction import LIBRARY_LOGGERS, RedactingFilter, protect_logs, redact

__all__ = [
    "TOKEN_SUBPROTOCOL_PREFIX",
    "OriginPolicy",
    "RedactingFilter",
    "bearer_token",
    "install_log_redaction",
    "redact",
    "select_subprotocol",
    "subprotocol_token",
]

TOKEN_SUBPROTOCOL_PREFIX: Final = "openai-insecure-api-key."
"""Browsers cannot set headers on a WebSocket, so OpenAI clients send the key as a subprotocol."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
SERVER_LOGGERS: Final = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "voicewire.server",
    *LIBRARY_LOGGERS,
)


def install_log_redaction(names: Iterable[str] = SERVER_LOGGERS) -> None:
    """Put a :class:`RedactingFilter` on the ASGI server's loggers and voicewire's own (once
    per logger).

    At DEBUG level uvicorn's WebSocket implementation logs every handshake header, the
    ``Authorization`` and ``Sec-WebSocket-Protocol`` values with their tokens among them. A
    filter on a logger sees the records logged to that very logger, which is where those are.
    The providers protect the ``websockets`` client's logger themselves (the upstream handshake
    carries the provider key), with or without a server.
    """
    protect_logs(names)


handshake_refused: ContextVar[bool] = ContextVar("voicewire_handshake_refused", default=False)
"""Set by the endpoint when it refuses a WebSocket handshake with an HTTP response. The ASGI
server logs in the same task once the endpoint returns, so the flag is still set there."""

_INCOMPLETE_HANDSHAKE: Final = "ASGI callable returned without completing handshake."


class RefusedHandshakeFilter(logging.Filter):
    """Drops uvicorn's "ASGI callable returned without completing handshake." error after a
    handshake the endpoint refused on purpose (a 401 or 403 denial response).

    uvicorn's ``websockets-sansio`` implementation does not count a denial response as the end of
    the handshake and logs that error for every refused token or origin (Kludex/uvicorn PR 3138
    fixes it upstream). The refusal itself reaches the client correctly, and the endpoint logs
    its own reason; for any other connection the error is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _INCOMPLETE_HANDSHAKE and handshake_refused.get())


def install_refused_handshake_filter(name: str = "uvicorn.error") -> None:
    logger = logging.getLogger(name)
    if not any(isinstance(f, RefusedHandshakeFilter) for f in logger.filters):
        logger.addFilter(RefusedHandshakeFilter())


def bearer_token(authorization: Iterable[str]) -> str | None:
    """The token of the first ``Authorization: Bearer <token>`` value."""
    for value in authorization:
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def subprotocol_token(offered: Iterable[str]) -> str | None:
    """The token carried as ``openai-insecure-api-key.<token>`` among the offered subprotocols."""
    for name in offered:
        if name.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(name) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return name[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None


def select_subprotocol(offered: Collection[str]) -> str | None:
    """``realtime`` when offered (OpenAI clients offer it next to the token). The token
    subprotocol is never echoed back: the response headers need not carry the secret."""
    return "realtime" if "realtime" in offered else None


def _origin_key(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None
    if not scheme or not host:
        return None
    if scheme in ("ws", "wss"):
        scheme = "http" if scheme == "ws" else "https"
    return scheme, host, port


class OriginPolicy:
    """Which browser origins may mint credentials and open sessions.

    * ``allowed=None`` (the default): same origin only. A page served by this app may connect;
      a page on any other site may not.
    * ``allowed=["https://app.example.com", ...]``: those origins, and the same origin.
    * ``allowed=["*"]``: any origin.

    Requests without an ``Origin`` header come from non-browser clients (the Python SDK, curl):
    the header exists so that browsers can tell servers which site is calling, and those clients
    have no site. They are allowed; the token is what authenticates them. ``Origin: null``
    (sandboxed frames, ``file://``) is refused unless ``"*"`` or ``"null"`` is listed.
    Same origin compares the ``Origin`` with this request's scheme and ``Host``: behind a proxy
    that rewrites either (TLS termination, another host name), list the public origin, or run
    uvicorn with ``--proxy-headers``.
    """

    def __init__(self, allowed: Collection[str] | None = None) -> None:
        self.any = allowed is not None and "*" in allowed
        self.allow_null = allowed is not None and "null" in allowed
        keys = (_origin_key(origin) for origin in allowed or () if origin not in ("*", "null"))
        self._allowed = frozenset(key for key in keys if key is not None)

    def allows(self, origin: str | None, *, scheme: str, host: str | None) -> bool:
        """Whether a request from ``origin`` to this app (``scheme://host``) may proceed."""
        if origin is None or self.any:
            return True
        if origin.strip().lower() == "null":
            return self.allow_null
        key = _origin_key(origin)
        if key is None:
            return False
        if key in self._allowed:
            return True
        return host is not None and key == _origin_key(f"{scheme}://{host}")
