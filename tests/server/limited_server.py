"""Test helper: an app on the uvicorn server ``voicewire serve`` runs (its connection limits and
its drain), on 127.0.0.1 in this event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette

from voicewire.server.http_limits import ServeOptions, listening_port, uvicorn_server

from .conftest import Served


@dataclass
class LimitedServed(Served):
    """A served app and the uvicorn server under it (its open connections)."""

    running: uvicorn.Server

    @property
    def connections(self) -> int:
        """Connections the server holds right now."""
        return len(self.running.server_state.connections)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds (bounded: a server that never gets there fails)."""
        async with asyncio.timeout(10):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.005)


@asynccontextmanager
async def serve_limited(
    app: Starlette, options: ServeOptions | None = None, sock: socket.socket | None = None
) -> AsyncIterator[LimitedServed]:
    """Run ``app`` under :func:`uvicorn_server` (port 0, or the listening ``sock``) for the
    duration of the block."""
    server = uvicorn_server(
        app, options or ServeOptions(), log_level=None, lifespan="off", log_config=None
    )
    task = asyncio.create_task(server.serve(None if sock is None else [sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.005)
        yield LimitedServed(app, listening_port(server), server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def closed_with(ws: websockets.ClientConnection, timeout: float = 5.0) -> tuple[int, str]:  # noqa: ASYNC109
    """Read ``ws`` until the server closes it; the close code and reason it sent."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server sent no close frame"
            return closed.rcvd.code, closed.rcvd.reason


def bearer(served: Served) -> dict[str, Any]:
    """``websockets.connect`` arguments authenticating with a fresh token."""
    return {"additional_headers": {"Authorization": f"Bearer {served.token()}"}, "open_timeout": 5}
