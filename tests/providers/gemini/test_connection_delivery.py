"""GeminiConnection reports how many of the events given to ``send()`` reached Gemini (the
optional ReportsDelivery hook the session's ledger reads): those written before a ping its pong
answered, counted from the first, so frames held for the next socket (after goAway) are not
counted even when a tool response goes out ahead of them. Real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from voicewire.protocol import AudioInputAppend, ReportsDelivery
from voicewire.providers import gemini
from voicewire.providers.keepalive import Keepalive

from .support import (
    TOOL_CALL,
    TOOL_RESULT,
    TURN_COMPLETE,
    Peer,
    RawGemini,
    Recorder,
    connect,
    first_socket,
    frame,
    frames_at_least,
    idle,
    new_handle,
    received_audio,
    stream,
    tool_response_in,
    until,
)

pytestmark = pytest.mark.timeout(30)

PINGING = Keepalive(ping_interval=0.02, ping_timeout=5.0)


async def pinging(server: RawGemini) -> gemini.GeminiConnection:
    """A connection that pings often: each pong proves what was written before its ping."""
    return await connect(server, keepalive=PINGING)


async def test_a_pong_proves_what_was_written_before_its_ping() -> None:
    async with RawGemini(idle) as server:
        connection = await pinging(server)
        assert isinstance(connection, ReportsDelivery)
        assert connection.delivered == 0
        await stream(connection, range(5))
        await until(lambda: connection.delivered == 5)
        await connection.close()


async def test_frames_held_for_the_next_socket_are_not_delivered() -> None:
    release = asyncio.Event()

    async def talk(peer: Peer) -> None:
        await peer.send(new_handle("h-1"))
        await peer.send(TOOL_CALL)
        await peer.recv_until(frames_at_least(2))
        await peer.send({"serverContent": {"modelTurn": {"parts": [{"text": "Let me"}]}}})
        await peer.send({"goAway": {"timeLeft": "20s"}})
        await peer.recv_until(tool_response_in)
        await release.wait()
        await peer.send(TURN_COMPLETE)
        await peer.send(new_handle("h-2"))

    async with RawGemini(first_socket(talk)) as server:
        connection = await pinging(server)
        recorder = Recorder(connection)
        await until(recorder.saw("tool.call"))
        await stream(connection, range(2))
        await until(lambda: connection._holding)  # the goAway was read
        await until(lambda: connection.delivered == 2)
        await stream(connection, range(2, 5))  # held for the next socket
        connection.send(TOOL_RESULT)  # goes out at once
        await until(lambda: tool_response_in(server.peers[0].received))
        pongs_before = connection.delivered
        await asyncio.sleep(0.2)  # many pongs later, the held frames are still not counted
        assert pongs_before == connection.delivered == 2
        release.set()
        await until(received_audio(server, 1, 3))
        await until(lambda: connection.delivered == 6)
        await connection.close()


async def test_an_event_with_nothing_to_write_counts_once_those_before_it_arrived() -> None:
    async with RawGemini(idle) as server:
        connection = await pinging(server)
        connection.send(AudioInputAppend(frame(0)))
        connection.send(AudioInputAppend(b""))  # nothing to write
        await until(lambda: connection.delivered == 2)
        await connection.close()
