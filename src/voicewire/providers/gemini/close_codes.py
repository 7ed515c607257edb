"""What a Gemini close frame means, and whether resuming the session is worth trying.

Gemini has no error message: a refused request closes the socket with a code and a reason text.
1007 ("invalid argument": a malformed or refused message, an exhausted context) and 1008 (a
policy violation: often a model the endpoint does not serve, or an operation it does not
implement) would only happen again, so they are fatal; 1011 (an internal error, a deadline) and a
plain close are worth resuming with the latest handle. Reasons are passed through
:func:`~voicewire.redaction.redact`: they may quote a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...protocol import ConfigurationError, HandshakeError, RealtimeError, SessionError
from ...redaction import redact

__all__ = ["CloseOutcome", "describe_close", "setup_refused"]


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    """A close, as the application hears it, and whether to resume after it."""

    error: SessionError
    """``session.error`` to report if the session cannot go on (``fatal``: the link is gone)."""
    resumable: bool
    """Worth resuming with a handle; ``False`` when the same request would fail again."""


def describe_close(code: int | None, reason: str = "") -> CloseOutcome:
    """The outcome of a close with ``code`` (``None``: the link died without a close frame)."""
    said = f": {redact(reason)}" if reason else ""
    if code == 1007:
        return CloseOutcome(
            SessionError(
                "invalid_argument",
                f"gemini refused a message as invalid and closed the session (1007{said}); "
                "not retried, since the same message would be refused again",
                fatal=True,
            ),
            resumable=False,
        )
    if code == 1008:
        return CloseOutcome(
            SessionError(
                "policy_violation",
                f"gemini closed the session for a policy violation (1008{said}); check that "
                "the model is served by this endpoint and supports what was asked",
                fatal=True,
            ),
            resumable=False,
        )
    if code == 1011:
        message = f"gemini closed the session with an internal error (1011{said})"
    elif code in (1000, 1001):
        message = f"gemini closed the session (code {code}{said})"
    elif code is None:
        message = f"the link to gemini was lost{said}"
    else:
        message = f"gemini closed the session (code {code}{said})"
    return CloseOutcome(SessionError("connection_lost", message, fatal=True), resumable=True)


def setup_refused(outcome: CloseOutcome) -> RealtimeError:
    """The error ``connect()`` raises when a socket closes before ``setupComplete``."""
    message = outcome.error.message.replace("the session", "the session during setup", 1)
    if outcome.error.code == "invalid_argument":
        return ConfigurationError(message)
    return HandshakeError(message)
