"""GeminiConnection over real WebSockets on 127.0.0.1: setup first, nothing else before
``setupComplete``, one ``session.created``, events decoded, acknowledgements after writing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json

import pytest

from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    ConfigurationError,
    ConnectOptions,
    ItemCreate,
    ItemCreated,
    PushConnection,
    RealtimeConnection,
    ResponseCancel,
    ResponseCreate,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    ToolCancelled,
    TransportStatus,
    TurnDetection,
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


async def test_a_malformed_frame_is_an_error_and_reading_goes_on() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.ws.send("{not json")
        await peer.ws.send(json.dumps({"serverContent": {"modelTurn": {"parts": "x"}}}))
        await peer.send({"toolCallCancellation": {"ids": ["c9"]}})
        await peer.pump()

    async with RawGemini(handler) as server:
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        connection = await model.connect(ConnectOptions(session_config=CONFIG))
        assert isinstance(connection, RealtimeConnection)
        assert isinstance(connection, PushConnection)
        events: list[ServerEvent] = []
        await collect(connection, ToolCancelled, events)
        errors = [e for e in events if isinstance(e, SessionError)]
        assert [e.code for e in errors] == ["protocol_error", "protocol_error"]
        assert "not JSON" in errors[0].message
        assert "modelTurn.parts must be an array" in errors[1].message
        assert not any(e.fatal for e in errors)
        assert connection.status is TransportStatus.CONNECTED
        await connection.close()


async def test_a_live_change_gemini_cannot_make_is_refused_by_the_session() -> None:
    """Semantic turn detection is no setup Gemini takes: the update fails at once, clearly, the
    session keeps its config and nothing is written."""

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.pump()

    async with RawGemini(handler) as server:
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        agent = RealtimeAgent(id="a", name="A", instructions="one")
        async with RealtimeSession(agent, model=model) as session:
            with pytest.raises(ConfigurationError, match="semantic"):
                session.update(turn_detection=TurnDetection("semantic_vad"))
            assert session.config.turn_detection is None
        assert [list(f) for f in server.peers[0].received] == [["setup"]]
        assert len(server.peers) == 1
