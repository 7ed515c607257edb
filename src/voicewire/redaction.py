"""Keys and tokens never reach a log line: masking text, and a logging filter that does it.

At DEBUG level the ``websockets`` library logs every handshake header, ``Authorization: Bearer
<provider key>`` and ``Sec-WebSocket-Protocol: ..., <prefix>.<token>`` among them, on the client
side (``websockets.client``: dialing a provider) and on the server side (``websockets.server``).
A :class:`RedactingFilter` on a logger masks them. Filters run only for records logged to that
very logger (not for records that propagate from its children), which is why the filter goes on
each logger that logs handshakes, not on a parent: see :func:`protect_logs`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

__all__ = ["LIBRARY_LOGGERS", "RedactingFilter", "protect_logs", "redact"]

_SECRETISH: Final = re.compile(
    r"(?i)(\bauthorization:\s*(?:bearer\s+|basic\s+|token\s+)?)\S+"  # any Authorization header
    r"|(\b(?:x-api-key|api-key|xi-api-key|x-goog-api-key):\s*)\S+"  # key headers
    r"|(bearer\s+)\S+"  # a bearer value quoted anywhere
    r"|\b(?:sk|xai|ek|rk)[-_][A-Za-z0-9_\-*.]{6,}"  # provider keys and ephemeral secrets
    r"|\bvw1\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"  # voicewire tokens
    r"|\b[a-z0-9-]*(?:api-key|client-secret)\.[^\s,;'\"]+"  # token subprotocols
)

LIBRARY_LOGGERS: Final = (
    "websockets.client",
    "websockets.server",
    "voicewire.connection",
    "voicewire.session",
    "voicewire.client",
)
"""Loggers whose records may quote a handshake or a provider's error: protected by the providers
(see :func:`protect_logs`); the server adds its ASGI server's loggers."""


def redact(text: str) -> str:
    """``text`` with anything that looks like a key or token masked (for logs and error text
    that may quote an upstream provider)."""
    return _SECRETISH.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2) or match.group(3) or "") + "***"


class RedactingFilter(logging.Filter):
    """Masks keys and tokens in log records (see :func:`redact`): the message with its
    arguments, and the text of an attached exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging reports those itself
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def protect_logs(names: Iterable[str] = LIBRARY_LOGGERS) -> None:
    """Put a :class:`RedactingFilter` on each named logger (once per logger)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
