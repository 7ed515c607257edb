"""A tiny ElevenLabs-speaking WebSocket server on 127.0.0.1 whose every move a test writes by
hand (the scripted fake server is :class:`voicewire.testing.FakeElevenLabsServer`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from voicewire.testing.elevenlabs_validation import validate_elevenlabs_client

from .support import metadata

Handler = Callable[["Peer"], Awaitable[None]]


class Peer:
    """One client connection as the server sees it: frames received (checked against the spec)
    and helpers to answer."""

    def __init__(self, socket: ServerConnection) -> None:
        self.socket = socket
        self.path = socket.request.path if socket.request else ""
        self.headers = dict(socket.request.headers) if socket.request else {}
        self.received: list[dict[str, Any]] = []
        self.violations: list[str] = []

    async def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.socket.recv())
        self.violations += validate_elevenlabs_client(message)
        self.received.append(message)
        return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def open(self, **formats: str) -> dict[str, Any]:
        """Take the initiation and answer with the metadata."""
        initiation = await self.recv()
        await self.send(metadata(**formats))
        return initiation

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            message = await self.recv()
            if (
                message.get("type", "user_audio_chunk" if "user_audio_chunk" in message else None)
                == kind
            ):
                return message


@asynccontextmanager
async def raw_agent(handler: Handler) -> AsyncIterator[tuple[str, list[Peer]]]:
    """``(base_url, peers)``: every connection runs ``handler``."""
    peers: list[Peer] = []

    async def run(socket: ServerConnection) -> None:
        peer = Peer(socket)
        peers.append(peer)
        try:
            await handler(peer)
        except Exception:  # the client went away: the test's assertions say what mattered
            pass
        finally:
            await asyncio.sleep(0)

    async with serve(run, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]  # type: ignore[index]
        yield f"ws://127.0.0.1:{port}", peers
