"""What a Gemini server message tells the connection rather than the application.

``setupComplete`` opens every socket, a resumed one included, but the application hears
``session.created`` once per connection; ``goAway`` and ``sessionResumptionUpdate`` drive the
connection's move to a new socket and have no neutral event at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...protocol import ServerEvent

__all__ = ["Decoded", "GoAway", "ResumptionUpdate", "SetupComplete"]


@dataclass(frozen=True, slots=True)
class SetupComplete:
    """The socket's ``setup`` was accepted."""

    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class GoAway:
    """The server will close this socket in ``time_left`` seconds."""

    time_left: float


@dataclass(frozen=True, slots=True)
class ResumptionUpdate:
    """A resumption handle: ``handle`` resumes the session as it is now, when ``resumable``."""

    handle: str | None
    resumable: bool


Decoded = ServerEvent | SetupComplete | GoAway | ResumptionUpdate
"""One thing decoded from a server message: a neutral event, or a signal for the connection."""
