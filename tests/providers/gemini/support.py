"""Helpers for the Gemini provider's tests: a tiny raw Gemini-speaking WebSocket server on
127.0.0.1 whose every client frame is checked against google-genai's types (strictly, camelCase),
validation of server fixtures before they are decoded, and what the connection tests share: a
connection to the raw server, numbered audio frames to stream and find again on either socket, a
recorder of what the application sees, and the server messages those tests send."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    ConnectOptions,
    ServerEvent,
    SessionConfig,
    SessionError,
    ToolResult,
    TransportStatus,
)
from voicewire.providers import gemini
from voicewire.providers.gemini import GeminiConnection, ResumePolicy
from voicewire.providers.keepalive import Keepalive
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
    index: int = 0
    """Which socket of its server this is (0: the first)."""
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

    async def recv_until(self, done: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Receive until ``done(received)`` holds."""
        while not done(self.received):
            await self.recv()

    async def fail(self) -> None:
        """Close as Gemini does on an internal error (1011): a handle resumes the session."""
        await self.ws.close(1011, "Internal error encountered.")


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
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        peer = Peer(ws, request.path, headers, index=len(self.peers))
        self.peers.append(peer)
        self.connected.set()
        await self.handler(peer)

    def all_received(self) -> list[dict[str, Any]]:
        return [frame for peer in self.peers for frame in peer.received]


# --- the connection tests ------------------------------------------------------------------------

CONFIG = SessionConfig(input_audio_format=AudioFormat.pcm16(16000))
FAST = ResumePolicy(attempts=3, backoff=(0.0, 0.05), go_away_margin=0.2, setup_timeout=5.0)
TOOL_CALL = {"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup"}]}}
TOOL_RESULT = ToolResult("c1", '{"ok": true}', "lookup")
TURN_COMPLETE = {"serverContent": {"turnComplete": True}}


def new_handle(handle: str) -> dict[str, Any]:
    """Gemini's message giving a resumption handle."""
    return {"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}}


def model_audio(samples: bytes) -> dict[str, Any]:
    """Gemini's message carrying ``samples`` of the model's 24 kHz speech."""
    chunk = base64.b64encode(samples).decode()
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": chunk}}
    return {"serverContent": {"modelTurn": {"parts": [part]}}}


def tool_response_in(frames: Iterable[dict[str, Any]]) -> bool:
    return any("toolResponse" in f for f in frames)


def first_socket(talk: Handler) -> Handler:
    """A handler: on every socket the setup is accepted, on the first ``talk(peer)`` runs, then
    each only listens (a socket ``talk`` closed stops at once)."""

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if peer.index == 0:
            await talk(peer)
        await peer.pump()

    return handler


def frame(index: int) -> bytes:
    """20 ms of 16 kHz audio that says which frame it is."""
    return struct.pack("<H", index) * 320


def index_of(message: dict[str, Any]) -> int | None:
    audio = message.get("realtimeInput", {}).get("audio")
    if audio is None:
        return None
    data = base64.b64decode(audio["data"])
    return int(struct.unpack("<H", data[:2])[0])


def indices(frames: list[dict[str, Any]]) -> list[int]:
    """The numbers of the :func:`frame` s among ``frames``, in order."""
    return [i for i in map(index_of, frames) if i is not None]


def frames_at_least(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    """For :meth:`Peer.recv_until`: ``count`` audio frames arrived."""
    return lambda received: len(indices(received)) >= count


class Recorder:
    """Every event and status of a connection."""

    def __init__(self, connection: GeminiConnection) -> None:
        self.events: list[ServerEvent] = []
        self.statuses: list[TransportStatus] = []
        self.ended = asyncio.Event()
        connection.on_status(self.statuses.append)
        connection.deliver_to(self.events.append, self.ended.set)

    def errors(self) -> list[SessionError]:
        return [e for e in self.events if isinstance(e, SessionError)]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def saw(self, kind: str) -> Callable[[], bool]:
        """For :func:`until`: an event of ``kind`` arrived."""
        return lambda: kind in self.kinds()


async def connect(
    server: RawGemini,
    *,
    policy: ResumePolicy = FAST,
    keepalive: Keepalive | None = None,
    **options: Any,
) -> GeminiConnection:
    """A connection to ``server`` with :data:`CONFIG`; ``options`` go to ``ConnectOptions``."""
    model = gemini.realtime(
        api_key="g-test", base_url=server.base_url, keepalive=keepalive, resume_policy=policy
    )
    connection = await model.connect(ConnectOptions(session_config=CONFIG, **options))
    assert isinstance(connection, GeminiConnection)
    return connection


async def stream(connection: GeminiConnection, frames: range) -> None:
    """Send the :func:`frame` s numbered ``frames``, a little apart."""
    for i in frames:
        connection.send(AudioInputAppend(frame(i)))
        await asyncio.sleep(0.002)
