"""Noticing a client that takes nothing: one timer per connection, no timer per send.

A send to a client that does not read waits for room in a socket nobody drains. Timing each send
would put a timer on the hot path (every audio frame); instead :class:`SendWatchdog` looks a few
times per ``send_timeout`` at a counter of messages handed to the socket, and calls ``on_stall``
when messages have been waiting and none has gone out for ``send_timeout`` seconds (as nginx's
``send_timeout``: between two successive writes, not for a whole reply).

A check that comes late means this process's own event loop was blocked: the client could not
have been served then either, so the wait starts again rather than blaming the client.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Final, NamedTuple

__all__ = ["SendState", "SendWatchdog"]

CHECKS_PER_TIMEOUT: Final = 4
"""Progress checks per ``send_timeout``: a stall is noticed within 1.25 of it."""
LOOP_STALL: Final = 0.5
"""Seconds a check may come late before the lateness counts as this process's stall (a blocked
event loop), not the client's."""


class SendState(NamedTuple):
    """What the watchdog reads of the sender at each check."""

    done: bool
    """The connection is over: stop watching."""
    sent: int
    """Messages handed to the socket so far (the progress counter)."""
    waiting: bool
    """A message is waiting for room in the socket."""


class SendWatchdog:
    """Calls ``on_stall(reason)`` once when ``state()`` shows messages waiting and no progress
    for ``send_timeout`` seconds; an infinite ``send_timeout`` watches nothing."""

    def __init__(
        self,
        send_timeout: float,
        state: Callable[[], SendState],
        on_stall: Callable[[str], None],
    ) -> None:
        self.send_timeout = send_timeout
        self.state = state
        self.on_stall = on_stall
        self.loop = asyncio.get_running_loop()
        self.interval = send_timeout / CHECKS_PER_TIMEOUT
        self.sent = state().sent
        self.progress_at = self.checked_at = self.loop.time()
        self.handle: asyncio.TimerHandle | None = None
        if math.isfinite(send_timeout):
            self.handle = self.loop.call_later(self.interval, self.check)

    def check(self) -> None:
        done, sent, waiting = self.state()
        if done:
            self.handle = None
            return
        now = self.loop.time()
        stalled_here = now - self.checked_at > self.interval + max(self.interval, LOOP_STALL)
        self.checked_at = now
        if sent != self.sent or not waiting or stalled_here:
            # Progress, nothing to send, or this process's own loop was blocked (the client
            # could not have been read from then either): the wait starts again.
            self.sent = sent
            self.progress_at = now
        elif now - self.progress_at >= self.send_timeout:
            self.handle = None
            self.on_stall(f"client too slow: nothing could be sent for {self.send_timeout:g} s")
            return
        self.handle = self.loop.call_later(self.interval, self.check)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
