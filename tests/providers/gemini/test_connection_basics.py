"""GeminiConnection over real WebSockets on 127.0.0.1: setup first, nothing else before
``setupComplete``, one ``session.created``, events decoded, acknowledgements after writing."""

from __future__ import annotations

import asyncio
import base64
import contextlib

import pytest

from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    ConnectOptions,
    ItemCreate,
    ItemCreated,
    ResponseCancel,
    ResponseCreate,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    TransportStatus,
    UnsupportedEventError,
    user_text,
)
from voicewire.providers import gemini

from .support import Peer, RawGemini

pytestmark = pytest.mark.timeout(20)

CONFIG = SessionConfig(instructions="be brief", input_audio_format=AudioFormat.pcm16(16000))


async def collect(connection: gemini.GeminiConnection, until: type, out: list[ServerEvent]) -> None:
    async for event in connection:
        out.append(event)
        if isinstance(event, until):
            return


async def test_setup_goes_first_and_nothing_else_before_setup_complete() -> None:
    release = asyncio.Event()
    seen_before_complete: list[dict[str, object]] = []

    async def handler(peer: Peer) -> None:
        setup = await peer.recv()
        assert "setup" in setup
        # Anything the client sends now would arrive before setupComplete.
        await release.wait()
        with contextlib.suppress(TimeoutError):
            seen_before_complete.append(await asyncio.wait_for(peer.recv(), 0.2))
        await peer.send({"setupComplete": {"sessionId": "s-1"}})
        await peer.pump()

    async with RawGemini(handler) as server:
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        connecting = asyncio.create_task(model.connect(ConnectOptions(session_config=CONFIG)))
        await server.connected.wait()
        release.set()
        connection = await connecting
        assert seen_before_complete == []
        assert connection.session_id == "s-1"
        connection.send(ItemCreate(user_text("hi", "item_a")))
        events: list[ServerEvent] = []
        await collect(connection, ItemCreated, events)
        assert isinstance(events[0], SessionCreated) and events[0].session_id == "s-1"
        assert isinstance(events[-1], ItemCreated) and events[-1].item.id == "item_a"
        peer = server.peers[0]
        await peer.received_at_least(2)
        assert peer.received[1] == {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                "turnComplete": False,
            }
        }
        assert peer.headers["x-goog-api-key"] == "g-test"
        assert "key=" not in peer.path
        assert peer.path.endswith("GenerativeService.BidiGenerateContent")
        assert peer.violations == []
        await connection.close()
        assert connection.status is TransportStatus.CLOSED


async def test_unsupported_events_raise_and_the_connection_keeps_serving() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.pump()

    async with RawGemini(handler) as server:
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        connection = await model.connect(ConnectOptions(session_config=CONFIG))
        with pytest.raises(UnsupportedEventError, match=r"response\.cancel"):
            connection.send(ResponseCancel())
        connection.send(AudioInputAppend(b"\x01\x00" * 160))
        connection.send(ResponseCreate())
        peer = server.peers[0]
        await peer.received_at_least(3)
        audio = peer.received[1]["realtimeInput"]["audio"]
        assert audio["mimeType"] == "audio/pcm;rate=16000"
        assert base64.b64decode(audio["data"]) == b"\x01\x00" * 160
        assert peer.received[2] == {"clientContent": {"turnComplete": True}}
        assert peer.violations == []
        await connection.close()
