"""Per-process session limits, each with a clear answer to the client it ends.

A voice session holds a model link (and, with a cloud model, money) for as long as its socket is
open, so nothing here waits on a client's good behaviour:

* **capacity** (``max_sessions``): a connection beyond it is accepted and closed at once with
  **1013** (try again later) and a reason. Accept-then-close rather than an HTTP 503 at the
  handshake, because a browser's ``WebSocket`` never shows a refused handshake's status (its
  ``close`` event says only 1006), while it does show a close code and reason;
* **idle** (``idle_timeout``): no client frame and no model output for this many seconds, and no
  response or tool under way, closes the session with **1000** and the reason ``idle: ...``;
* **duration** (``max_session_duration``): a session open this long is closed with **1000** and the
  reason ``session time limit: ...``, whatever it is doing.

:class:`Activity` watches one session; :func:`enforce` ends the session through a callback when
a limit is reached. The drain (:mod:`.drain`) reads the same :class:`Activity` to tell a session
with a response or tool under way from one that may be closed now.

Nothing here runs per audio frame (50 a second per talking client, each way). Activity is read
from the relay's message counts (plain integers it keeps anyway) a few times per idle timeout
(:data:`CHECKS_PER_IDLE`), not noted with a clock read on every frame; a session therefore closes
between ``idle_timeout`` and 1.25 times it after its last frame. Whether a response or tool is
under way comes from handlers for those four event kinds only, never from every event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from voicewire.protocol import ConfigurationError, ResponseCreated, ResponseDone, ToolCall
from voicewire.session import RealtimeSession, ToolOutput

__all__ = [
    "CAPACITY_CLOSE_CODE",
    "CHECKS_PER_IDLE",
    "LIMIT_CLOSE_CODE",
    "Activity",
    "SessionLimits",
    "Traffic",
    "enforce",
]

CAPACITY_CLOSE_CODE: Final = 1013
"""Try again later: this process serves ``max_sessions`` already (or is draining)."""
LIMIT_CLOSE_CODE: Final = 1000
"""A normal closure the server chose (idle, time limit): the reason says which."""
CHECKS_PER_IDLE: Final = 4
"""Looks at a session's traffic per ``idle_timeout``: it closes within 1.25 times that."""


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """What one process allows its sessions (``None``: no limit).

    Attributes:
        max_sessions: sessions served at once; more are closed with 1013.
        idle_timeout: seconds without a client frame, model output, response or tool after
            which a session is closed (1000, ``idle``).
        max_session_duration: seconds after which a session is closed whatever it is doing (1000).
    """

    max_sessions: int | None = None
    idle_timeout: float | None = 300.0
    max_session_duration: float | None = 4 * 3600.0

    def __post_init__(self) -> None:
        if self.max_sessions is not None and self.max_sessions < 1:
            raise ConfigurationError(f"max_sessions must be at least 1, got {self.max_sessions}")
        for name in ("idle_timeout", "max_session_duration"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be positive, got {value}")

    def full(self, active: int) -> bool:
        """Whether ``active`` sessions leave no room for another."""
        return self.max_sessions is not None and active >= self.max_sessions


class Traffic(Protocol):
    """What :class:`Activity` reads of a connection: messages in each direction (the relay)."""

    @property
    def frames_in(self) -> int: ...
    @property
    def frames_out(self) -> int: ...


class Activity:
    """What one session is doing: when it was last active (a message either way on ``traffic``,
    as of the last :meth:`check`), and whether a response or a tool is under way (a response
    that a finished tool will ask for counts as under way)."""

    def __init__(self, session: RealtimeSession, traffic: Traffic) -> None:
        self.started = self.last = time.monotonic()
        self._traffic = traffic
        self._seen = -1  # frames_in + frames_out at the last check
        self._responses: set[str | None] = set()
        self._tools: set[str] = set()
        self._continuation = False  # a tool finished: the session asks the model to go on
        self._offs = [
            session.on(ResponseCreated.kind, self._response_created),
            session.on(ResponseDone.kind, self._response_done),
            session.on(ToolCall.kind, self._tool_call),
            session.on(ToolOutput.kind, self._tool_output),
        ]

    @property
    def busy(self) -> bool:
        """A response or tool is under way: the session should not be cut now."""
        return bool(self._responses or self._tools or self._continuation)

    def check(self, now: float) -> None:
        """Note ``now`` as the last activity if a message went either way since the last check
        (or a response or tool is under way)."""
        traffic = self._traffic
        seen = traffic.frames_in + traffic.frames_out
        if seen != self._seen or self.busy:
            self._seen = seen
            self.last = now

    def unsubscribe(self) -> None:
        """Stop watching the session's events."""
        for off in self._offs:
            off()

    def _response_created(self, event: ResponseCreated) -> None:
        self._responses.add(event.response_id)
        self._continuation = False

    def _response_done(self, event: ResponseDone) -> None:
        self._responses.discard(event.response_id)
        if not self._tools:
            self._continuation = False

    def _tool_call(self, event: ToolCall) -> None:
        self._tools.add(event.call_id)

    def _tool_output(self, event: ToolOutput) -> None:
        self._tools.discard(event.call_id)
        self._continuation = not self._tools


async def enforce(
    activity: Activity, limits: SessionLimits, end: Callable[[int, str], None]
) -> None:
    """Call ``end(code, reason)`` once the session goes idle or reaches its time limit (a task
    per session, cancelled when the session ends; it wakes :data:`CHECKS_PER_IDLE` times per
    idle timeout, and at the time limit)."""
    idle, longest = limits.idle_timeout, limits.max_session_duration
    if idle is None and longest is None:
        return
    while True:
        now = time.monotonic()
        if longest is not None and now - activity.started >= longest:
            end(LIMIT_CLOSE_CODE, f"session time limit: open for {longest:g} s")
            return
        wake = activity.started + longest if longest is not None else float("inf")
        if idle is not None:
            activity.check(now)
            if now - activity.last >= idle:
                end(LIMIT_CLOSE_CODE, f"idle: no activity for {idle:g} s")
                return
            wake = min(wake, now + idle / CHECKS_PER_IDLE, activity.last + idle)
        await asyncio.sleep(max(wake - now, 0.0) + 0.001)
