"""A link that dies without closing is noticed by the connection's pings, over the default socket
and over one from the caller's factory, and by a send that never gets through. The link is made
dead by a FaultProxy blackhole between the provider and the fake server on 127.0.0.1, or by a
socket whose send or ping never returns (the buffers of a dead link that carries traffic)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from tests.dead_links import TEST_KEEPALIVE
from voicewire.protocol import (
    ConnectOptions,
    RealtimeConnection,
    SessionCreated,
    SessionError,
    TransportStatus,
    WireSocket,
)
from voicewire.providers import openai, xai
from voicewire.providers.keepalive import VOICE_KEEPALIVE, Keepalive, watch
from voicewire.providers.openai_protocol.connection import OpenAIProtocolConnection
from voicewire.providers.openai_protocol.endpoint import XAI_ENDPOINT
from voicewire.testing import FakeRealtimeServer, FaultProxy

pytestmark = pytest.mark.timeout(30)

NOTICED_WITHIN_S = 10.0
"""Upper bound for the wait (websockets' own defaults would take 30-50 s): a failure bound, not
a timing assertion."""


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[FakeRealtimeServer, FaultProxy]]:
    async with (
        FakeRealtimeServer(api_key="sk-test") as server,
        FaultProxy.to(server.base_url) as proxy,
    ):
        yield server, proxy


async def opened(connection: RealtimeConnection) -> None:
    async for event in connection:
        if isinstance(event, SessionCreated):
            return


async def lost_after_blackhole(connection: RealtimeConnection, proxy: FaultProxy) -> SessionError:
    """Blackhole the link and return the error the connection reports once it notices."""
    await opened(connection)
    proxy.blackhole()
    async with asyncio.timeout(NOTICED_WITHIN_S):
        async for event in connection:
            if isinstance(event, SessionError) and event.fatal:
                return event
    raise AssertionError("the connection ended without reporting the lost link")


async def test_the_default_socket_is_pinged_by_the_connection(
    proxied: tuple[FakeRealtimeServer, FaultProxy],
) -> None:
    server, proxy = proxied
    model = openai.realtime(
        api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=TEST_KEEPALIVE
    )
    connection = await model.connect(ConnectOptions())
    try:
        lost = await lost_after_blackhole(connection, proxy)
        assert lost.code == "connection_lost"
        assert connection.status is TransportStatus.DISCONNECTED
    finally:
        await connection.close()


async def test_a_socket_from_the_callers_factory_is_pinged_by_the_connection(
    proxied: tuple[FakeRealtimeServer, FaultProxy],
) -> None:
    server, proxy = proxied
    dialed: list[WireSocket] = []

    async def no_keepalive(
        url: str, subprotocols: Sequence[str], headers: Mapping[str, str]
    ) -> WireSocket:
        socket = await ws_connect(
            url,
            additional_headers=dict(headers),
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
            ping_interval=None,  # the socket itself would never notice
        )
        dialed.append(socket)
        return socket

    model = openai.realtime(
        api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=TEST_KEEPALIVE
    )
    connection = await model.connect(ConnectOptions(websocket=no_keepalive))
    try:
        lost = await lost_after_blackhole(connection, proxy)
        assert lost.code == "connection_lost" and "ping" in lost.message
    finally:
        await connection.close()
    assert len(dialed) == 1


def test_keepalive_is_provider_data_the_user_can_override() -> None:
    assert openai.realtime(api_key="k").keepalive == VOICE_KEEPALIVE
    assert xai.realtime(api_key="k").keepalive == XAI_ENDPOINT.keepalive
    assert openai.realtime(api_key="k", keepalive=TEST_KEEPALIVE).keepalive == TEST_KEEPALIVE
    bound = VOICE_KEEPALIVE.detects_within
    assert bound is not None and bound <= 10.0
    assert Keepalive(ping_interval=3.0, ping_timeout=2.0).detects_within == 5.0
    assert Keepalive(ping_interval=None).detects_within is None


@pytest.mark.parametrize(
    "kwargs", [{"ping_interval": 0.0}, {"ping_timeout": -1.0}, {"close_timeout": 0.0}]
)
def test_keepalive_settings_that_make_no_sense_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Keepalive"):
        Keepalive(**kwargs)


async def dead_after_one_ping(ping: Callable[[], Awaitable[object]]) -> list[str]:
    """Run :func:`watch` over ``ping`` until it reports the link dead."""
    dead: list[str] = []
    async with asyncio.timeout(NOTICED_WITHIN_S):
        await watch(ping, Keepalive(ping_interval=0.01, ping_timeout=0.2), dead.append)
    return dead


async def test_a_ping_that_cannot_be_sent_is_a_dead_link() -> None:
    async def stuck() -> asyncio.Future[float]:
        await asyncio.Event().wait()  # websockets' ping() waits here for a full buffer to drain
        raise AssertionError("unreachable")

    dead = await dead_after_one_ping(stuck)
    assert len(dead) == 1 and "ping" in dead[0]


async def test_a_pong_that_is_never_answered_is_a_dead_link() -> None:
    async def unanswered() -> asyncio.Future[float]:
        return asyncio.get_running_loop().create_future()

    assert len(await dead_after_one_ping(unanswered)) == 1


async def test_a_pong_due_with_the_deadline_is_not_a_dead_link() -> None:
    """The loop was blocked past the deadline and the pong came meanwhile: a busy machine, not a
    dead link. Both fall due in the same turn of the loop, the pong first."""
    loop = asyncio.get_running_loop()
    timeout = 0.2
    pings = 0

    async def late() -> asyncio.Future[float]:
        nonlocal pings
        pings += 1
        pong: asyncio.Future[float] = loop.create_future()
        if pings == 1:
            loop.call_later(timeout / 2, time.sleep, timeout)  # the loop is stuck past the deadline
            loop.call_later(timeout * 0.9, pong.set_result, 0.0)  # ...and the pong is in
        return pong  # later pings go unanswered: the test ends there

    dead = await dead_after_one_ping(late)
    assert pings == 2 and len(dead) == 1


class StuckSocket:
    """A socket on a dead link whose buffers are full: a send never returns, pings get pongs
    (so only the send can tell), nothing arrives."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def send(self, message: str, /) -> None:
        await asyncio.Event().wait()

    async def recv(self) -> str | bytes:
        await self.closed.wait()
        raise ConnectionError("closed")

    async def ping(self) -> asyncio.Future[float]:
        pong: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        pong.set_result(0.0)
        return pong

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed.set()


async def test_a_send_that_never_gets_through_is_a_dead_link() -> None:
    keepalive = Keepalive(ping_interval=0.05, ping_timeout=0.2, close_timeout=0.2)
    connection = OpenAIProtocolConnection(
        StuckSocket(), openai.realtime(api_key="k").codec, provider="openai", keepalive=keepalive
    )
    try:
        connection.send_raw({"type": "input_audio_buffer.append", "audio": ""})
        async with asyncio.timeout(NOTICED_WITHIN_S):
            lost = [e async for e in connection if isinstance(e, SessionError) and e.fatal]
        assert [e.code for e in lost] == ["connection_lost"] and "send" in lost[0].message
        assert connection.status is TransportStatus.DISCONNECTED
    finally:
        await connection.close()


class Transport:
    def __init__(self, socket: StuckSocket) -> None:
        self.socket = socket
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.socket.closed.set()


class StuckClose(StuckSocket):
    """``websockets``' close() on a full buffer: it waits for the buffer to drain, forever."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = Transport(self)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await asyncio.Event().wait()


async def test_closing_a_stuck_link_does_not_wait_for_it() -> None:
    socket = StuckClose()
    never = Keepalive(ping_interval=None, ping_timeout=None, close_timeout=0.2)
    connection = OpenAIProtocolConnection(
        socket, openai.realtime(api_key="k").codec, provider="openai", keepalive=never
    )
    connection.send_raw({"type": "input_audio_buffer.append", "audio": ""})  # stuck in send
    async with asyncio.timeout(NOTICED_WITHIN_S):
        await connection.close()
    assert socket.transport.aborted and connection.status is TransportStatus.CLOSED
