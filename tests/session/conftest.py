"""In-memory stand-ins for the layers below and beside the session (no sockets here; the
end-to-end tests use a real WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from voicewire.protocol import (
    AudioSink,
    ClientEvent,
    ConnectOptions,
    PlaybackPosition,
    ServerEvent,
    StatusListener,
    TokenCredential,
    TransportStatus,
)


class MemoryConnection:
    def __init__(self) -> None:
        self.sent: list[ClientEvent] = []
        self._queue: asyncio.Queue[ServerEvent | None] = asyncio.Queue()
        self._status = TransportStatus.CONNECTED
        self._listeners: list[StatusListener] = []

    @property
    def status(self) -> TransportStatus:
        return self._status

    @property
    def session_id(self) -> str | None:
        return "sess_mem"

    def send(self, event: ClientEvent) -> None:
        self.sent.append(event)

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: None

    async def __aiter__(self) -> AsyncIterator[ServerEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def close(self) -> None:
        self._status = TransportStatus.CLOSED
        self._queue.put_nowait(None)

    def push(self, *events: ServerEvent) -> None:
        for event in events:
            self._queue.put_nowait(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.sent]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.sent if e.kind == kind]


class MemoryModel:
    provider = "memory"
    model_id = "memory-1"

    def __init__(self) -> None:
        self.connection = MemoryConnection()
        self.options: ConnectOptions | None = None

    async def connect(self, options: ConnectOptions | None = None) -> MemoryConnection:
        self.options = options
        return self.connection

    async def authenticate(self) -> TokenCredential:
        raise NotImplementedError


class FakeChannel:
    """A channel whose listener position the test sets by hand."""

    def __init__(self) -> None:
        self.sink: AudioSink | None = None
        self.played: list[tuple[str, bytes]] = []
        self.heard_ms: int | None = None
        self.interrupted = 0
        self.ended: list[str] = []
        self.closed = False

    async def start(self, sink: AudioSink) -> None:
        self.sink = sink

    def speak(self, audio: bytes) -> None:
        assert self.sink is not None
        self.sink.send_audio(audio)

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        self.played.append((item_id, audio))

    def interrupt(self) -> None:
        self.interrupted += 1

    def mark_end(self, item_id: str) -> None:
        self.ended.append(item_id)

    def playback_position(self) -> PlaybackPosition | None:
        if not self.played or self.heard_ms is None:
            return None
        return PlaybackPosition(self.played[-1][0], self.heard_ms)

    async def close(self) -> None:
        self.closed = True


async def settle(rounds: int = 20) -> None:
    """Let the session's pump and tool tasks run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.fixture
def model() -> MemoryModel:
    return MemoryModel()


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()
