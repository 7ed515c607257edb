"""Log lines written while a client session is served carry that session's label.

A server holds hundreds of sessions at once, and what its session, its model link and its tools
log (``voicewire.session``, ``voicewire.connection``, ...) says nothing of which one it belongs
to. The endpoint sets :data:`current_session` around each session it serves; the tasks the
session starts (its event pump, its tools, its reconnects) inherit the value, as asyncio copies
the context into every task. A :class:`SessionLogFilter` on voicewire's server-side loggers then
puts the label in front of each message that does not already name it, and on the record as
``record.voicewire_session`` (for structured formatters).

The label is the endpoint's ``session <n> (<peer address>)``: no token, key or handle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Final

__all__ = ["SESSION_LOGGERS", "SessionLogFilter", "current_session", "install_session_logging"]

current_session: ContextVar[str | None] = ContextVar("voicewire_session", default=None)
"""The label of the client session being served in this task (``None`` outside one)."""

SESSION_LOGGERS: Final = (
    "voicewire.server",
    "voicewire.session",
    "voicewire.connection",
    "voicewire.local",
    "voicewire.local.llm",
)
"""voicewire's loggers that write on behalf of a served session."""


class SessionLogFilter(logging.Filter):
    """Prefixes a record's message with the current session's label (see the module
    docstring); records logged outside a session pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        label = current_session.get()
        if label is None:
            return True
        record.voicewire_session = label
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging reports those itself
            return True
        if label not in message:
            record.msg, record.args = f"{label}: {message}", None
        return True


def install_session_logging(names: Iterable[str] = SESSION_LOGGERS) -> None:
    """Put a :class:`SessionLogFilter` on each named logger (once per logger): a filter sees only
    the records logged to its own logger, not those of its children."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SessionLogFilter) for f in logger.filters):
            logger.addFilter(SessionLogFilter())
