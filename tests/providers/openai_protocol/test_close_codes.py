"""Which closes an OpenAI-protocol link reconnects after: a drop (1011, 1012 service restart,
1013 try again later, no close frame) is reconnected; a close that ends the session (1000 the
server ended it, 1008 policy) is reported as a fatal error of its own and not retried. Real
provider stack against the fake server over a real WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.e2e.test_session_e2e import session_for, until
from voicewire.openai_wire.close_codes import describe_close
from voicewire.protocol import SessionError, TransportStatus
from voicewire.session import ReconnectPolicy, StatusChanged
from voicewire.testing import FakeRealtimeServer

pytestmark = pytest.mark.timeout(30)


def test_only_closes_that_end_the_session_are_final() -> None:
    ended = describe_close("voicewire", 1000, "idle: no activity for 300 s")
    assert ended is not None and ended.fatal and ended.code == "session_ended"
    assert "close code 1000: idle: no activity for 300 s" in ended.message
    policy = describe_close("openai", 1008, "client too slow")
    assert policy is not None and policy.code == "policy_violation"
    for drop in (None, 1001, 1006, 1011, 1012, 1013, 4000):
        assert describe_close("openai", drop, "") is None
    leaked = describe_close("openai", 1008, "Bearer sk-live-0123456789abcdef0123")
    assert leaked is not None and "sk-live-0123456789abcdef0123" not in leaked.message


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key="sk-test") as fake:
        yield fake


@pytest.mark.parametrize(("code", "error"), [(1000, "session_ended"), (1008, "policy_violation")])
async def test_a_close_that_ends_the_session_is_not_reconnected(
    server: FakeRealtimeServer, code: int, error: str
) -> None:
    policy = ReconnectPolicy(initial_delay=0.01)
    async with session_for(server, reconnect=policy, modalities=["text"]) as session:
        await server.drop_connections(code=code, reason="ended by the server")
        seen = await until(session, "status.changed", count=3)  # connecting, connected, ...
        assert seen[-1] == StatusChanged(TransportStatus.DISCONNECTED)
        assert session.status is TransportStatus.DISCONNECTED
        errors = [e for e in seen if isinstance(e, SessionError)]
        assert [(e.code, e.fatal) for e in errors] == [(error, True)]
        await asyncio.sleep(0.2)  # many times the reconnect delay
        assert server.connection_count == 1
        assert session.reconnects == 0


@pytest.mark.parametrize("code", [1011, 1012, 1013])
async def test_a_drop_is_reconnected(server: FakeRealtimeServer, code: int) -> None:
    policy = ReconnectPolicy(initial_delay=0.01)
    async with session_for(server, reconnect=policy, modalities=["text"]) as session:
        await server.drop_connections(code=code, reason="restarting")
        seen = await until(session, "status.changed", count=4)  # ..., reconnecting, connected
        assert session.status is TransportStatus.CONNECTED
        assert not [e for e in seen if isinstance(e, SessionError)]
        assert server.connection_count == 2
