"""What a close frame from an OpenAI-protocol server means for a session: a drop to reconnect
after, or the end of the session.

A voicewire server closes with **1012** when it restarts (a drain: reconnect, with the resume
handle, to any instance), **1013** when it is full or draining (try again later, with backoff),
**1011** when its own link to the model failed, and a link can die without a close frame (1006):
all of these are drops, and a session reconnects. It closes with **1000** when it ended the
session on purpose (idle, the session time limit) and with **1008** when the client broke its
policy (it did not read what it asked for): reconnecting would reopen what the server closed, or
meet the same end. So would a close for frames the server could not take (1002, 1003, 1007, 1009,
1010). Those end the session: a fatal ``session.error`` with the code below instead of
``connection_lost``, and the session does not retry (see
:mod:`voicewire.providers.codec_connection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from voicewire.protocol import SessionError
from voicewire.redaction import redact

__all__ = ["FINAL_CLOSES", "describe_close"]

FINAL_CLOSES: Final[Mapping[int, str]] = {
    1000: "session_ended",
    1008: "policy_violation",
    1002: "protocol_error",
    1003: "protocol_error",
    1007: "protocol_error",
    1009: "protocol_error",
    1010: "protocol_error",
}
"""Close codes that end the session, and the ``session.error`` code each is reported with."""


def describe_close(provider: str, code: int | None, reason: str) -> SessionError | None:
    """The fatal error a close with ``code`` ends the session with, or ``None`` for a drop
    (the connection then reports ``connection_lost`` in its own words)."""
    final = FINAL_CLOSES.get(code) if code is not None else None
    if final is None:
        return None
    said = f": {redact(reason)}" if reason else ""
    return SessionError(
        final,
        f"{provider} ended the session (close code {code}{said}); not reconnecting, since a "
        "new connection would meet the same end",
        fatal=True,
    )
