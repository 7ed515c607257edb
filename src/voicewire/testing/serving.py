"""What every fake server in :mod:`voicewire.testing` does to start and stop: ``async with``
support and a bounded shutdown (stop listening, wait for the connections, cancel what is left),
written once so each fake only says how it starts and what it cancels first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server

__all__ = ["Served", "shut_down"]

_logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0
"""How long a shutdown waits for connections and tasks before giving up."""


class Served:
    """``async with`` for a fake server: enter starts it, exit closes it."""

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
