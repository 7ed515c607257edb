"""What the servers in :mod:`voicewire.testing` do to start and stop: ``async with``
support and, for the fake WebSocket servers, listening with the same limits and a bounded
shutdown (stop listening, wait for the connections, cancel what is left), written once so each
fake only says how it serves and what it cancels first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, ClassVar, Self

from websockets.asyncio.server import Server, ServerConnection, serve

__all__ = ["Served", "WebSocketFake", "shut_down"]

_logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0
"""How long a shutdown waits for connections and tasks before giving up."""

HANDSHAKE_TIMEOUT_S = 5.0
"""How long a fake waits for a WebSocket opening or closing handshake."""

MAX_MESSAGE_BYTES = 16 * 2**20
"""The largest WebSocket message a fake accepts."""


class Served:
    """``async with`` for a fake server or the fault proxy: enter starts it, exit closes it."""

    async def start(self) -> Self:
        """Start listening."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop, closing every connection."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class WebSocketFake(Served):
    """A fake WebSocket server's lifecycle: start once on ``host:port`` (port 0 picks a free
    one, read back into ``port``), close bounded, and refuse URLs while not running.

    A subclass sets ``host``, ``port``, ``_server = None`` and ``_tasks = set()`` (the tasks
    :meth:`close` cancels), implements :meth:`_listen` (usually :meth:`_serve`) and may override
    :meth:`_stop_work`.
    """

    _label: ClassVar[str] = "fake server"
    """How the shutdown warning names the server."""

    host: str
    port: int
    _server: Server | None
    _tasks: set[asyncio.Task[None]]

    def _listen(self) -> Awaitable[Server]:
        """Start the WebSocket server (:meth:`start` awaits it once)."""
        raise NotImplementedError

    async def _stop_work(self) -> None:
        """Cancel the fake's own work before its connections close (nothing by default)."""

    def _serve(
        self, handler: Callable[[ServerConnection], Awaitable[None]], **options: Any
    ) -> Awaitable[Server]:
        """``serve(handler)`` on ``host:port`` with the limits every fake shares; ``options``
        add to them (``process_request``, ``ssl``, ...)."""
        return serve(
            handler,
            self.host,
            self.port,
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=HANDSHAKE_TIMEOUT_S,
            close_timeout=HANDSHAKE_TIMEOUT_S,
            **options,
        )

    async def start(self) -> Self:
        """Start listening (``async with`` does this); a no-op while running."""
        if self._server is None:
            self._server = await self._listen()
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop the fake's work, every connection and listening (``async with`` does this).
        Bounded: gives up waiting after a few seconds."""
        server, self._server = self._server, None
        if server is None:
            return
        await self._stop_work()
        await shut_down(server, self._tasks, self._label)

    def _origin(self, scheme: str = "ws") -> str:
        """``scheme://host:port``; raises while the server is not running."""
        if self._server is None:
            raise RuntimeError("the fake server is not running; use 'async with' or start()")
        return f"{scheme}://{self.host}:{self.port}"


async def shut_down(server: Server, tasks: Iterable[asyncio.Task[None]], name: str) -> None:
    """Close ``server`` and its connections, then cancel ``tasks``; bounded, never hangs."""
    server.close()
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
            await server.wait_closed()
    except TimeoutError:
        _logger.warning("%s: connections did not close in time", name)
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=SHUTDOWN_TIMEOUT_S)
