"""Graceful drain: an instance being stopped lets its running answers finish, then sends its
callers elsewhere.

Instances are restarted often (a deploy, a scale-down), and a voice caller cut mid-sentence
notices. On SIGTERM a voicewire app being served by :class:`DrainingServer` (what
``voicewire serve`` runs, in every worker):

1. stops taking sessions: ``/readyz`` answers 503 (a load balancer stops routing to it) and a
   new WebSocket is closed at once with 1013 (try again later), while the port stays open so
   probes get their answer;
2. lets every session with a response or a tool under way finish it (bounded by the app's
   ``drain_timeout``), closing each session with **1012** (service restart) as soon as it has
   nothing under way, and every one still open when the timeout passes;
3. then stops as uvicorn does (its own shutdown would close every WebSocket with 1012 at once,
   answers and tools cut short).

A client that gets 1012 reconnects (the Python ``RealtimeClient`` does by itself, and replays
its conversation into the new session). A second SIGTERM, or SIGINT, stops at once. A process
that drained exits normally (status 0).

Apps served some other way call :meth:`VoicewireServer.drain` themselves.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

import uvicorn

if TYPE_CHECKING:
    from .limits import Activity
    from .relay import Relay

__all__ = ["DRAIN_CLOSE_CODE", "DrainingServer", "close_when_quiet", "drain_of"]

log = logging.getLogger("voicewire.server")

DRAIN_CLOSE_CODE: Final = 1012
"""Service restart: reconnect (to another instance)."""
DRAIN_CLOSE_REASON: Final = "server restarting: reconnect"
POLL_S: Final = 0.05
"""How often a drain looks for sessions with nothing under way."""


async def close_when_quiet(sessions: Mapping[Relay, Activity], grace: float) -> None:
    """Close each of ``sessions`` (a live view: sessions leave it as they end) with 1012 once it
    has no response or tool under way, and all that remain after ``grace`` seconds; return
    once none remains (or ``grace`` later still, should one not end)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while sessions and loop.time() < deadline + grace:
        overdue = loop.time() >= deadline
        for relay, activity in list(sessions.items()):
            if overdue or not activity.busy:
                relay.end(DRAIN_CLOSE_CODE, DRAIN_CLOSE_REASON)
        await asyncio.sleep(POLL_S)


def drain_of(app: Any) -> Callable[[], Awaitable[None]] | None:
    """The drain of a voicewire app (``create_app``'s), or ``None`` for any other app."""
    server = getattr(getattr(app, "state", None), "voicewire", None)
    drain = getattr(server, "drain", None)
    return drain if callable(drain) else None


class DrainingServer(uvicorn.Server):
    """A uvicorn server that, on a first SIGTERM, awaits ``drain()`` before it stops (see the
    module docstring); without a ``drain``, it is uvicorn's."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]] | None) -> None:
        super().__init__(config)
        self._drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[Any] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop = self._loop
        if (
            sig != signal.SIGTERM
            or self._drain is None
            or loop is None
            or self._draining
            or self.should_exit
        ):
            super().handle_exit(sig, frame)
            return
        # Not recorded as a captured signal: uvicorn would raise it again once stopped, and the
        # process would die of it instead of exiting normally after a clean drain.
        self._draining = True
        loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        log.info("SIGTERM: draining before stopping")
        self._drain_task = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        assert self._drain is not None
        try:
            await self._drain()
        except Exception:
            log.exception("the drain failed; stopping now")
        finally:
            self.should_exit = True
