from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.server.conftest import Served, serve
from tests.session.conftest import FakeChannel, MemoryConnection, settle
from voicewire import RealtimeAgent
from voicewire.client import RealtimeClient
from voicewire.protocol import (
    ConnectOptions,
    CredentialExpiredError,
    RealtimeModel,
    SessionError,
    TextOutput,
    TokenCredential,
    TransportStatus,
)
from voicewire.server import create_app
from voicewire.session import ReconnectPolicy
from voicewire.testing import ScriptedModel, TextReply


class CountingModel:
    """Hands out a fresh in-memory connection per connect and remembers the options."""

    provider = "memory"
    model_id = "memory-1"

    def __init__(self, delay: float = 0.0) -> None:
        self.connections: list[MemoryConnection] = []
        self.options: list[ConnectOptions | None] = []
        self.delay = delay

    async def connect(self, options: ConnectOptions | None = None) -> MemoryConnection:
        self.options.append(options)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.connections.append(MemoryConnection())
        return self.connections[-1]

    async def authenticate(self) -> TokenCredential:
        raise NotImplementedError


AGENT = RealtimeAgent(id="a", name="A", instructions="Hi.")
# Computed at collection; a whole day so a long suite run never outlives it.
SOON = datetime.now(UTC) + timedelta(days=1)


async def test_status_sequence_seen_by_callback_and_iterator() -> None:
    client = RealtimeClient(AGENT, CountingModel())
    by_callback: list[str] = []
    client.on_status(by_callback.append)
    by_iterator: list[str] = []

    async def watch() -> None:
        async for status in client.statuses():
            by_iterator.append(status)
            if len(by_iterator) == 4:
                return

    watcher = asyncio.create_task(watch())
    await settle()
    assert client.status is TransportStatus.DISCONNECTED
    await client.connect()
    assert client.status is TransportStatus.CONNECTED
    await client.disconnect()
    await asyncio.wait_for(watcher, 1)
    assert by_callback == ["connecting", "connected", "disconnected"]
    assert by_iterator == ["disconnected", "connecting", "connected", "disconnected"]


async def test_connect_is_a_no_op_while_connected_or_connecting() -> None:
    model = CountingModel(delay=0.02)
    client = RealtimeClient(AGENT, model)
    await asyncio.gather(client.connect(), client.connect())
    await client.connect()
    assert len(model.connections) == 1
    await client.disconnect()


@pytest.mark.parametrize(
    "credential",
    [
        {"kind": "token", "token": "ek_1", "expiresAt": SOON.isoformat()},
        {"credential": {"kind": "token", "token": "ek_1", "expiresAt": SOON}},
        TokenCredential("ek_1", SOON),
    ],
)
async def test_connect_takes_a_credential_in_any_of_its_forms(credential: object) -> None:
    model = CountingModel()
    client = RealtimeClient(AGENT, model)
    await client.connect(credential)  # type: ignore[arg-type]
    options = model.options[0]
    assert options is not None and options.credential == TokenCredential("ek_1", SOON)
    await client.disconnect()


async def test_an_expired_credential_is_refused_before_dialing() -> None:
    model = CountingModel()
    client = RealtimeClient(AGENT, model)
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    with pytest.raises(CredentialExpiredError, match="expired"):
        await client.connect({"kind": "token", "token": "ek", "expiresAt": past})
    assert model.options == [] and client.status is TransportStatus.DISCONNECTED


async def test_mute_carries_over_and_gates_audio() -> None:
    model = CountingModel()
    channel = FakeChannel()
    client = RealtimeClient(AGENT, model, channel=channel)
    client.mute()
    await client.connect()
    assert client.muted and client.session is not None and client.session.muted
    channel.speak(b"\x01\x00" * 100)
    client.unmute()
    channel.speak(b"\x02\x00" * 100)
    appended = model.connections[0].of("audio.input.append")
    assert [a.audio[:1] for a in appended] == [b"\x02"]
    await client.disconnect()


async def test_send_message_reaches_the_model_and_needs_a_connection() -> None:
    model = CountingModel()
    client = RealtimeClient(AGENT, model)
    with pytest.raises(RuntimeError, match="connect"):
        client.send_message("hello")
    await client.connect()
    client.send_message("hello")
    assert model.connections[0].kinds()[-2:] == ["item.create", "response.create"]
    await client.disconnect()


async def test_events_of_a_session_already_left_are_ignored() -> None:
    model = CountingModel()
    client = RealtimeClient(AGENT, model)
    heard: list[str] = []
    client.on("text", lambda e: heard.append(e.text))
    await client.connect()
    first = client.session
    model.connections[0].push(TextOutput("r1", "i1", "from the first"))
    await settle()
    await client.disconnect()
    await client.connect()
    assert first is not None and client.session is not first
    first._hub.emit(TextOutput("r1", "i2", "late, from the first"))  # a straggler
    model.connections[1].push(TextOutput("r2", "i3", "from the second"))
    await settle()
    assert heard == ["from the first", "from the second"]
    await client.disconnect()


async def test_a_dropped_session_returns_the_client_to_disconnected() -> None:
    model = CountingModel()
    channel = FakeChannel()
    client = RealtimeClient(
        AGENT, model, channel=lambda: channel, reconnect=ReconnectPolicy(attempts=0)
    )
    await client.connect()
    dropped = client.session
    await model.connections[0].close()  # the link ends under the session
    await settle()
    assert client.status is TransportStatus.DISCONNECTED and client.session is None
    assert dropped is not None and dropped.status is TransportStatus.CLOSED and channel.closed
    await client.connect()  # and it can connect again
    assert client.status is TransportStatus.CONNECTED and len(model.connections) == 2
    await client.disconnect()


async def test_a_dropped_link_is_brought_back_under_the_same_session() -> None:
    model = CountingModel()
    client = RealtimeClient(AGENT, model, reconnect=ReconnectPolicy(initial_delay=0.01))
    statuses: list[TransportStatus] = []
    client.on_status(statuses.append)
    await client.connect()
    session = client.session
    await model.connections[0].close()  # the provider ends the link
    for _ in range(100):
        if len(model.connections) == 2 and client.status is TransportStatus.CONNECTED:
            break
        await asyncio.sleep(0.01)
    assert statuses == [
        TransportStatus.CONNECTING,
        TransportStatus.CONNECTED,
        TransportStatus.RECONNECTING,
        TransportStatus.CONNECTED,
    ]
    assert client.session is session and session is not None and session.reconnects == 1
    await client.disconnect()


# --- against a voicewire server: which closes reconnect, and with what credential -----------------


@asynccontextmanager
async def voicewire_server(**options: Any) -> AsyncIterator[tuple[Served, RealtimeModel]]:
    """A voicewire server (scripted model) and an OpenAI-protocol model dialling it."""
    from voicewire.providers import openai

    scripted = ScriptedModel(model_id="scripted-realtime")
    scripted.script.default = TextReply("Noted.")
    app = create_app(AGENT, scripted, secret="client-tests-secret-0123456789abcdef", **options)
    async with serve(app) as served:
        yield served, openai.realtime(base_url=f"ws://127.0.0.1:{served.port}/v1")


async def until_reconnected(client: RealtimeClient, served: Served) -> None:
    """Until the client is connected to a second session of ``served``."""
    async with asyncio.timeout(10):
        while not (  # noqa: ASYNC110
            client.status is TransportStatus.CONNECTED
            and served.server.sessions_served == 2
            and served.server.active_sessions == 1
        ):
            await asyncio.sleep(0.01)


async def test_each_reconnect_dials_with_a_fresh_credential_from_get_credential() -> None:
    async with voicewire_server(single_use=True) as (served, upstream):
        minted: list[object] = []

        async def fresh() -> object:
            minted.append(served.server.tokens.issue(subject="alice"))
            return minted[-1]

        client = RealtimeClient(
            AGENT, upstream, get_credential=fresh, reconnect=ReconnectPolicy(initial_delay=0.01)
        )
        await client.connect()  # with a credential from get_credential
        assert len(minted) == 1
        (relay,) = served.server.relays
        relay.end(1012, "service restart")  # a drain: the single-use token is spent
        await until_reconnected(client, served)
        assert len(minted) == 2
        assert served.server.metrics is not None
        scraped = served.server.metrics.render().decode()
        assert 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0' in scraped
        await client.disconnect()


@pytest.mark.parametrize(("code", "error"), [(1000, "session_ended"), (1008, "policy_violation")])
async def test_a_session_the_server_ended_is_not_reconnected(code: int, error: str) -> None:
    async with voicewire_server() as (served, upstream):
        client = RealtimeClient(AGENT, upstream, reconnect=ReconnectPolicy(initial_delay=0.01))
        errors: list[SessionError] = []
        client.on("session.error", lambda event: errors.append(event))  # type: ignore[arg-type]
        statuses: list[TransportStatus] = []
        client.on_status(statuses.append)
        await client.connect(served.server.tokens.issue())
        (relay,) = served.server.relays
        relay.end(code, "idle: no activity for 300 s")
        async with asyncio.timeout(10):
            while client.status is not TransportStatus.DISCONNECTED:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # many times the reconnect delay
        assert statuses == [
            TransportStatus.CONNECTING,
            TransportStatus.CONNECTED,
            TransportStatus.DISCONNECTED,
        ]
        assert [(e.code, e.fatal) for e in errors] == [(error, True)]
        assert served.server.sessions_served == 1
