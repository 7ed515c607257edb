"""Keys and tokens never reach a log line: masking text, and a logging filter that does it.

At DEBUG level the ``websockets`` library logs every handshake header, ``Authorization: Bearer
<provider key>`` and ``Sec-WebSocket-Protocol: ..., <prefix>.<token>`` among them, and the request
line with its query string (a signed URL's signature, Gemini's ``?key=``), on the client side
(``websockets.client``: dialing a provider) and on the server side (``websockets.server``);
``httpx`` logs every request URL at INFO; ``asyncio`` logs the exceptions nobody retrieved, whose
text may quote a provider's answer. A :class:`RedactingFilter` on a logger masks them: in the
message, in the traceback (formatted and masked; ``exc_info`` is dropped when its text held a
secret, so a handler that formats it itself cannot leak it), in the stack and in ``extra=``
fields. Filters run only for records logged to that very logger (not for records that propagate
from its children), which is why the filter goes on each logger by name, not on a parent: see
:func:`protect_logs` and :data:`LIBRARY_LOGGERS`.
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
    r"|\bvwr1\.[A-Za-z0-9_\-.]+"  # voicewire resume handles (headers, ?resume=)
    r"|\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # JWTs (voicewire tokens)
    r"|\b[a-z0-9-]*(?:api-key|client-secret)\.[^\s,;'\"]+"  # token subprotocols
    # URL query parameters that carry a credential: ?key=, ?api-key=, access_token=, sig=,
    # conversation_signature=, client_secret=, ...
    r"|([?&;][\w.-]*(?:key|token|secret|sig|signature|password|credential)=)[^&#\s'\"<>]+"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"  # Google API keys
)

LIBRARY_LOGGERS: Final = (
    "websockets.client",
    "websockets.server",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "asyncio",
    "voicewire",
    "voicewire.channels.device",
    "voicewire.channels.twilio",
    "voicewire.channels.wav",
    "voicewire.client",
    "voicewire.connection",
    "voicewire.local",
    "voicewire.local.llm",
    "voicewire.server",
    "voicewire.session",
    "voicewire.testing.fake_elevenlabs.server",
    "voicewire.testing.fake_gemini",
    "voicewire.testing.fake_server",
    "voicewire.testing.serving",
)
"""Loggers whose records may quote a handshake, a request URL or a provider's error: the
``websockets`` and ``httpx`` loggers, ``asyncio``'s, and every logger of voicewire's own (a test
keeps this list complete). Protected by the providers (see :func:`protect_logs`); the server adds
its ASGI server's loggers."""


def redact(text: str) -> str:
    """``text`` with anything that looks like a key or token masked (for logs and error text
    that may quote an upstream provider)."""
    return _SECRETISH.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    """The part of the match that names the secret (a header, a parameter), then ``***``."""
    return next((kept for kept in match.groups() if kept), "") + "***"


_RECORD_FIELDS: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
"""The attributes every log record has; any other is an ``extra=`` field."""


class RedactingFilter(logging.Filter):
    """Masks keys and tokens in log records (see :func:`redact`): the message with its
    arguments, the attached exception, the stack and the ``extra=`` fields.

    The exception is formatted into ``exc_text`` (which formatters use instead of formatting it
    again) and masked there. If its text held a secret, ``exc_info`` is dropped as well: JSON
    formatters and error trackers read it directly and would format the secret back; the masked
    traceback stays in ``exc_text``. An exception without secrets keeps its ``exc_info``."""

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
            masked = redact(record.exc_text)
            if masked != record.exc_text:
                record.exc_text, record.exc_info = masked, None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def protect_logs(names: Iterable[str] = LIBRARY_LOGGERS) -> None:
    """Put a :class:`RedactingFilter` on each named logger (once per logger)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
