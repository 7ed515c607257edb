"""What a Gemini connection keeps per socket and per written frame, and the policy by which it
moves a session to a new socket (kept apart from :mod:`.connection`, which does the moving)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...protocol import ServerEvent, SessionConfig, WireSocket
from .close_codes import CloseOutcome, describe_close

__all__ = [
    "SETUP_TIMEOUT_S",
    "Dialer",
    "Frame",
    "Link",
    "ResumePolicy",
    "SetupClosed",
    "SetupFor",
    "answers_of",
    "answers_only",
    "dumps",
    "is_audio",
    "outcome_of",
]

SETUP_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class ResumePolicy:
    """How the connection moves to a new socket."""

    attempts: int = 3
    """Dials tried after an unexpected close before giving up."""
    backoff: tuple[float, ...] = (0.0, 0.5, 1.5)
    """Seconds to wait before each attempt (the last value repeats)."""
    go_away_margin: float = 2.0
    """Switch at least this long before ``goAway``'s deadline (less when ``timeLeft`` is
    shorter: then at 80 % of it)."""
    setup_timeout: float = SETUP_TIMEOUT_S
    """Seconds a new socket may take to answer ``setup``."""
    update_wait: float = 10.0
    """How long a ``session.update`` that needs a new socket waits for the model to finish its
    turn and for a fresh handle (the switch happens then, or at the end of this wait)."""
    fresh_handle_wait: float = 5.0
    """After ``goAway``, with no turn under way, how long to wait for a handle newer than the
    last turn before switching with the latest one (what was written since it is written again;
    the model's last answer may be forgotten). Frames wait meanwhile, so this stays short."""


@dataclass(slots=True)
class Frame:
    text: str
    acks: list[ServerEvent] = field(default_factory=list)
    answers: tuple[str, ...] = ()
    """A tool response: the ids of the calls it answers. The turn under way waits for it, so it
    goes out even while the other frames are held for the next socket."""
    audio: bool = False
    """A ``realtimeInput.audio`` frame: dropped first when too much is kept to write again."""
    event: int | None = None
    """The number of the event given to ``send()`` whose last frame this is."""
    config: SessionConfig | None = None
    """Not a frame but a ``session.update``: the frames after it go to a new socket opened with
    this configuration."""

    @property
    def urgent(self) -> bool:
        """Written even while the other frames are held for the next socket."""
        return bool(self.answers)


@dataclass(slots=True)
class Link:
    socket: WireSocket
    reader: asyncio.Task[None] | None = None
    pinger: asyncio.Task[None] | None = None
    retiring: bool = False
    """Closed on purpose (a switch or close): its end is not a failure."""


class SetupClosed(Exception):
    """A socket closed before ``setupComplete``."""

    def __init__(self, outcome: CloseOutcome) -> None:
        super().__init__(outcome.error.message)
        self.outcome = outcome


Dialer = Callable[[], Awaitable[WireSocket]]
SetupFor = Callable[[str | None, SessionConfig], dict[str, Any]]


def outcome_of(exc: BaseException) -> CloseOutcome:
    """The close behind ``exc`` (a ``websockets`` ConnectionClosed carries the close frame)."""
    frame = getattr(exc, "rcvd", None)
    code = getattr(frame, "code", None)
    if code is not None:
        return describe_close(code, getattr(frame, "reason", "") or "")
    return describe_close(None, f"({type(exc).__name__}: {exc})" if str(exc) else "")


def answers_only(frame: Frame, calls: set[str]) -> bool:
    """Whether ``frame`` is a tool response answering only some of ``calls``."""
    return bool(frame.answers) and set(frame.answers) <= calls


def is_audio(frame: dict[str, Any]) -> bool:
    """Whether ``frame`` is a ``realtimeInput`` carrying audio."""
    return "audio" in frame.get("realtimeInput", {})


def answers_of(frame: dict[str, Any]) -> tuple[str, ...]:
    """The call ids a ``toolResponse`` frame answers (none for other frames)."""
    responses = frame.get("toolResponse", {}).get("functionResponses", [])
    return tuple(str(r.get("id")) for r in responses if isinstance(r, dict))


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
