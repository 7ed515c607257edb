"""A socket connection counts the events a pong proves arrived (the ReportsDelivery hook the
session's ledger reads): those written before the ping the pong answers, never a raw message,
never what went into a link that died. Real provider stack over real TCP on 127.0.0.1, the link
killed by a FaultProxy blackhole."""

from __future__ import annotations

import asyncio

import pytest

from tests.dead_links import TEST_KEEPALIVE
from voicewire.protocol import AudioInputAppend, ConnectOptions, ReportsDelivery, TransportStatus
from voicewire.providers import openai
from voicewire.testing import FakeRealtimeServer, FaultProxy, silence

pytestmark = pytest.mark.timeout(30)

GIVE_UP_S = 10.0
"""A failure bound for waits: not a timing assertion."""


async def test_a_pong_proves_what_was_written_before_its_ping() -> None:
    async with (
        FakeRealtimeServer(api_key="sk-test") as server,
        FaultProxy.to(server.base_url) as proxy,
    ):
        model = openai.realtime(
            api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=TEST_KEEPALIVE
        )
        connection = await model.connect(ConnectOptions())
        try:
            assert isinstance(connection, ReportsDelivery)
            assert connection.delivered == 0
            for _ in range(3):
                connection.send(AudioInputAppend(silence(20)))
            connection.send_raw({"type": "input_audio_buffer.clear"})  # not one of send()'s
            async with asyncio.timeout(GIVE_UP_S):
                while connection.delivered < 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            proxy.blackhole()
            for _ in range(2):
                connection.send(AudioInputAppend(silence(20)))  # into the dead link
            async with asyncio.timeout(GIVE_UP_S):
                while connection.status is TransportStatus.CONNECTED:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert connection.delivered == 3
        finally:
            await connection.close()
