"""A link that dies without closing is noticed by pings: the default socket's, with the model's
keepalive settings, and the connection's own over a socket from the caller's factory. The link is
made dead by a FaultProxy blackhole between the provider and the fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from voicewire.protocol import (
    ConnectOptions,
    RealtimeConnection,
    SessionCreated,
    SessionError,
    TransportStatus,
    WireSocket,
)
from voicewire.providers import openai, xai
from voicewire.providers.openai_protocol.keepalive import VOICE_KEEPALIVE, Keepalive
from voicewire.testing import FakeRealtimeServer, FaultProxy

pytestmark = pytest.mark.timeout(30)

QUICK = Keepalive(ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
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


async def test_the_model_keepalive_reaches_the_default_socket(
    proxied: tuple[FakeRealtimeServer, FaultProxy],
) -> None:
    server, proxy = proxied
    model = openai.realtime(api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=QUICK)
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

    model = openai.realtime(api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=QUICK)
    connection = await model.connect(ConnectOptions(websocket=no_keepalive))
    try:
        lost = await lost_after_blackhole(connection, proxy)
        assert lost.code == "connection_lost" and "ping" in lost.message
    finally:
        await connection.close()
    assert len(dialed) == 1


def test_keepalive_is_provider_data_the_user_can_override() -> None:
    assert openai.realtime(api_key="k").keepalive == VOICE_KEEPALIVE
    assert xai.realtime(api_key="k").keepalive == xai.realtime(api_key="k").dialect.keepalive
    assert openai.realtime(api_key="k", keepalive=QUICK).keepalive == QUICK
    bound = VOICE_KEEPALIVE.detects_within
    assert bound is not None and bound <= 10.0
    assert Keepalive(ping_interval=None).detects_within is None


@pytest.mark.parametrize(
    "kwargs", [{"ping_interval": 0.0}, {"ping_timeout": -1.0}, {"close_timeout": 0.0}]
)
def test_keepalive_settings_that_make_no_sense_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Keepalive"):
        Keepalive(**kwargs)
