"""Helpers for the Gemini provider's tests: a tiny raw Gemini-speaking WebSocket server on
127.0.0.1 whose every client frame is checked against google-genai's types (strictly, camelCase),
and validation of server fixtures before they are decoded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from voicewire.testing.gemini_validation import validate_gemini_client, validate_gemini_server

Handler = Callable[["Peer"], Awaitable[None]]


def strict_client(frame: dict[str, Any]) -> dict[str, Any]:
    """``frame``, after checking it strictly (one key, known fields, camelCase, enums)."""
    problems = validate_gemini_client(frame, camel_case=True)
    assert problems == [], (frame, problems)
    return frame


def server_fixture(message: dict[str, Any]) -> dict[str, Any]:
    """``message``, after checking it is a server message google-genai accepts."""
    problems = validate_gemini_server(message)
    assert problems == [], (message, problems)
    return message


@dataclass
class Peer:
    """One accepted socket: what it received (parsed, validated) and a way to answer."""

    ws: ServerConnection
    path: str
    headers: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def recv(self) -> dict[str, Any]:
        raw = await self.ws.recv()
        frame = json.loads(raw)
        self.violations += validate_gemini_client(frame, camel_case=True)
        async with self._arrived:
            self.received.append(frame)
            self._arrived.notify_all()
        return frame

    async def received_at_least(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` frames have arrived; returns them all."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(server_fixture(message)))

    async def handshake(self, session_id: str | None = None) -> dict[str, Any]:
        """Take the setup frame and answer ``setupComplete``."""
        setup = await self.recv()
        assert "setup" in setup, setup
        await self.send({"setupComplete": {"sessionId": session_id} if session_id else {}})
        return setup

    async def pump(self) -> None:
        """Keep receiving until the socket closes."""
        try:
            while True:
                await self.recv()
        except Exception:
            return


async def idle(peer: Peer) -> None:
    """A handler that accepts the setup and then only listens."""
    await peer.handshake()
    await peer.pump()


async def until(predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` holds (state another task changes without an event to wait
    on, such as a connection's handle); the test's timeout bounds a failure."""
    while not predicate():  # noqa: ASYNC110 - nothing to wait on but the state itself
        await asyncio.sleep(0.005)


def received_audio(server: RawGemini, peer: int, count: int) -> Callable[[], bool]:
    """Whether socket ``peer`` (0: the first) of ``server`` got ``count`` audio frames."""
    return lambda: (
        len(server.peers) > peer
        and (
            sum("audio" in f.get("realtimeInput", {}) for f in server.peers[peer].received) >= count
        )
    )


class RawGemini:
    """``async with RawGemini(handler) as server``: each accepted socket runs ``handler(peer)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.peers: list[Peer] = []
        self.connected = asyncio.Event()
        self._server: Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def __aenter__(self) -> RawGemini:
        self._server = await serve(self._accept, "127.0.0.1", 0, ping_interval=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _accept(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        peer = Peer(ws, request.path, {k.lower(): v for k, v in request.headers.raw_items()})
        self.peers.append(peer)
        self.connected.set()
        await self.handler(peer)

    def all_received(self) -> list[dict[str, Any]]:
        return [frame for peer in self.peers for frame in peer.received]
