"""What a Gemini connection keeps per socket and per written frame, and the policy by which it
moves a session to a new socket (kept apart from :mod:`.connection`, which does the moving)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...protocol import ServerEvent, SessionConfig, WireSocket
from .close_codes import CloseOutcome, describe_close

__all__ = [
    "RESEND_LIMIT_BYTES",
    "SETUP_TIMEOUT_S",
    "Dialer",
    "Frame",
    "Link",
    "ResendLog",
    "ResumePolicy",
    "SetupClosed",
    "SetupFor",
    "answers_of",
    "answers_only",
    "dumps",
    "is_audio",
    "outcome_of",
]

log = logging.getLogger("voicewire.connection")

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


RESEND_LIMIT_BYTES = 8 * 1024 * 1024
"""At most this much written since the latest handle is kept to write again (about three minutes
of 16 kHz audio in base64); past it the oldest audio is dropped first (then, if need be, the oldest
frames), with a warning once per handle."""


class ResendLog:
    """What was written since the latest handle, to write again on a socket that resumes it, and
    the tool calls the model made since (a resumed session never made them, so responses to them
    are not written again: Gemini refuses unknown call ids). Bounded by
    :data:`RESEND_LIMIT_BYTES`."""

    def __init__(self) -> None:
        self._frames: deque[Frame] = deque()
        self._bytes = 0
        self._overflowed = False
        self.calls: set[str] = set()
        """Tool calls the model made after the latest handle."""

    def written(self, frame: Frame) -> None:
        """``frame`` is on the socket."""
        self._frames.append(Frame(frame.text, answers=frame.answers, audio=frame.audio))
        self._bytes += len(frame.text)
        if self._bytes <= RESEND_LIMIT_BYTES:
            return
        while self._bytes > RESEND_LIMIT_BYTES and self._frames:
            # the oldest audio first: typed words and tool responses are small and precious
            index = next((i for i, old in enumerate(self._frames) if old.audio), 0)
            self._bytes -= len(self._frames[index].text)
            del self._frames[index]
        if not self._overflowed:  # once per handle: the drop goes on frame by frame
            self._overflowed = True
            log.warning(
                "gemini: no resumption handle for a long time; frames written since the last "
                "one are no longer all kept to write again on a resumption"
            )

    def take(self) -> tuple[list[Frame], set[str]]:
        """What to write again on a socket resuming the latest handle, and the calls made since
        it (whose responses still queued are not to be written either); starts afresh."""
        calls = self.calls
        again = [frame for frame in self._frames if not answers_only(frame, calls)]
        self.handle()
        return again, calls

    def handle(self) -> None:
        """A new handle covers everything written so far."""
        self._frames.clear()
        self._bytes = 0
        self._overflowed = False
        self.calls = set()


def is_audio(frame: dict[str, Any]) -> bool:
    """Whether ``frame`` is a ``realtimeInput`` carrying audio."""
    return "audio" in frame.get("realtimeInput", {})


def answers_of(frame: dict[str, Any]) -> tuple[str, ...]:
    """The call ids a ``toolResponse`` frame answers (none for other frames)."""
    responses = frame.get("toolResponse", {}).get("functionResponses", [])
    return tuple(str(r.get("id")) for r in responses if isinstance(r, dict))


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
