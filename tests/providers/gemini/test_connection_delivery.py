"""GeminiConnection reports how many of the events given to ``send()`` reached Gemini (the
optional ReportsDelivery hook the session's ledger reads): those written before a ping its pong
answered, counted from the first, so frames held for the next socket (after goAway) are not
counted even when a tool response goes out ahead of them. Real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from voicewire.protocol import AudioInputAppend, ConnectOptions, ReportsDelivery, ToolResult
from voicewire.providers import gemini
from voicewire.providers.keepalive import Keepalive

from .support import Peer, RawGemini, idle, received_audio, until
from .test_connection_resume import CONFIG, FAST, Recorder, frame, indices, stream

pytestmark = pytest.mark.timeout(30)

PINGING = Keepalive(ping_interval=0.02, ping_timeout=5.0)


async def connect(server: RawGemini) -> gemini.GeminiConnection:
    model = gemini.realtime(
        api_key="g-test", base_url=server.base_url, keepalive=PINGING, resume_policy=FAST
    )
    return await model.connect(ConnectOptions(session_config=CONFIG))


async def test_a_pong_proves_what_was_written_before_its_ping() -> None:
    async with RawGemini(idle) as server:
        connection = await connect(server)
        assert isinstance(connection, ReportsDelivery)
        assert connection.delivered == 0
        await stream(connection, range(5))
        await until(lambda: connection.delivered == 5)
        await connection.close()


async def test_frames_held_for_the_next_socket_are_not_delivered() -> None:
    release = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) > 1:
            await peer.pump()
            return
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        await peer.send({"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup"}]}})
        while len(indices(peer.received)) < 2:
            await peer.recv()
        await peer.send({"serverContent": {"modelTurn": {"parts": [{"text": "Let me"}]}}})
        await peer.send({"goAway": {"timeLeft": "20s"}})
        while not any("toolResponse" in f for f in peer.received):
            await peer.recv()
        await release.wait()
        await peer.send({"serverContent": {"turnComplete": True}})
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-2", "resumable": True}})
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: any(e.kind == "tool.call" for e in recorder.events))
        await stream(connection, range(2))
        await until(lambda: connection._holding)  # the goAway was read
        await until(lambda: connection.delivered == 2)
        await stream(connection, range(2, 5))  # held for the next socket
        connection.send(ToolResult("c1", '{"ok": true}', "lookup"))  # goes out at once
        await until(lambda: any("toolResponse" in f for f in server.peers[0].received))
        pongs_before = connection.delivered
        await asyncio.sleep(0.2)  # many pongs later, the held frames are still not counted
        assert pongs_before == connection.delivered == 2
        release.set()
        await until(received_audio(server, 1, 3))
        await until(lambda: connection.delivered == 6)
        await connection.close()


async def test_an_event_with_nothing_to_write_counts_once_those_before_it_arrived() -> None:
    async with RawGemini(idle) as server:
        connection = await connect(server)
        connection.send(AudioInputAppend(frame(0)))
        connection.send(AudioInputAppend(b""))  # nothing to write
        await until(lambda: connection.delivered == 2)
        await connection.close()
