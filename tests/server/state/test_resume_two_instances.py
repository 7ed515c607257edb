"""A conversation outlives its instance: a session on instance A, drained (1012) in the middle of
a conversation, is resumed on instance B by the Python client with its resume handle, through one
real Redis; B's fresh model link hears the earlier turn, and a new turn refers back to it."""

from __future__ import annotations

import asyncio

import pytest

from voicewire import RealtimeAgent, RealtimeClient
from voicewire.protocol import (
    MessageItem,
    ResponseDone,
    SessionError,
    ToolCallItem,
    ToolResultItem,
    TransportStatus,
)
from voicewire.server import create_app
from voicewire.server.state import RedisState
from voicewire.server.workers import listen
from voicewire.session import SessionEvent
from voicewire.testing import ScriptedModel, TextReply, ToolCallReply

from ..limited_server import serve_limited
from .conftest import RedisServer

pytestmark = pytest.mark.timeout(60)

SECRET = "one-secret-for-both-instances-0123456789"


async def answered(client: RealtimeClient, text: str, responses: int = 1) -> None:
    """Send ``text`` and wait for the end of ``responses`` answers; no error on the way."""
    done = asyncio.Event()
    ended: list[ResponseDone] = []
    errors: list[SessionError] = []

    def on_event(event: SessionEvent) -> None:
        if isinstance(event, SessionError):
            errors.append(event)
        if isinstance(event, ResponseDone):
            ended.append(event)
            if len(ended) == responses:
                done.set()

    off = client.on("*", on_event)
    try:
        client.send_message(text)
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        off()
    assert errors == []


def words(model: ScriptedModel) -> list[str]:
    """What the model's latest link holds, message by message, in order."""
    held = model.connections[-1].conversation.values()
    return [item.text for item in held if isinstance(item, MessageItem)]


async def test_a_drained_session_is_resumed_on_another_instance_with_its_history(
    agent: RealtimeAgent, redis_server: RedisServer, prefix: str
) -> None:
    from voicewire.providers import openai

    model = ScriptedModel(model_id="scripted-realtime")
    model.script.default = TextReply("Noted.")
    model.script.on("my name", TextReply("You told me: Ada."))
    model.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("Sunny in Paris.")),
    )
    states = [RedisState.from_url(redis_server.url, prefix=prefix) for _ in range(2)]
    app_a = create_app(agent, model, secret=SECRET, state=states[0])
    async with serve_limited(app_a) as first:
        port = first.port
        upstream = openai.realtime(base_url=f"ws://127.0.0.1:{port}/v1")
        client = RealtimeClient(RealtimeAgent(id="app", name="App", instructions=""), upstream)
        statuses: list[TransportStatus] = []
        client.on_status(statuses.append)
        await client.connect(first.server.tokens.issue(subject="alice"))
        await answered(client, "I am Ada, remember it")
        await answered(client, "the weather?")  # the server's tool call, then the answer
        async with asyncio.timeout(10):
            while words(model)[-1] != "Sunny in Paris.":  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await first.server.drain()  # 1012: the client reconnects, with its handle
    try:
        sock = listen("127.0.0.1", port, reuse_port=False)  # B, where the balancer sends it
        app_b = create_app(agent, model, secret=SECRET, state=states[1])
        async with serve_limited(app_b, sock=sock) as second:
            async with asyncio.timeout(20):
                while client.status is not TransportStatus.CONNECTED or not (  # noqa: ASYNC110
                    second.server.active_sessions
                ):
                    await asyncio.sleep(0.02)
            assert TransportStatus.DISCONNECTED not in statuses
            assert second.server.metrics is not None
            scraped = second.server.metrics.render().decode()
            assert 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0' in scraped
            # B's model link heard the earlier turns once (the client's own replay of them was
            # not passed on twice), the server's tool call among them (which only the server's
            # stored conversation holds: its client was never shown it), then the new turn.
            await answered(client, "what is my name?")
            assert words(model) == [
                "I am Ada, remember it",
                "Noted.",
                "the weather?",
                "Sunny in Paris.",
                "what is my name?",
                "You told me: Ada.",
            ]
            kinds = [type(i) for i in model.connections[-1].conversation.values()]
            assert kinds[3:5] == [ToolCallItem, ToolResultItem]
            await client.disconnect()
            await second.wait_idle()
    finally:
        await client.disconnect()
        for state in states:
            await state.aclose()


async def test_without_a_shared_backend_the_client_starts_anew_and_replays_its_own_history(
    agent: RealtimeAgent, redis_server: RedisServer, prefix: str
) -> None:
    from voicewire.providers import openai

    model = ScriptedModel(model_id="scripted-realtime")
    model.script.default = TextReply("Noted.")
    states = [RedisState.from_url(redis_server.url, prefix=f"{prefix}{n}:") for n in range(2)]
    async with serve_limited(create_app(agent, model, secret=SECRET, state=states[0])) as first:
        port = first.port
        upstream = openai.realtime(base_url=f"ws://127.0.0.1:{port}/v1")
        client = RealtimeClient(RealtimeAgent(id="app", name="App", instructions=""), upstream)
        await client.connect(first.server.tokens.issue(subject="alice"))
        await answered(client, "I am Ada")
        await first.server.drain()
    try:
        sock = listen("127.0.0.1", port, reuse_port=False)
        app_b = create_app(agent, model, secret=SECRET, state=states[1])  # another prefix
        async with serve_limited(app_b, sock=sock) as second:
            async with asyncio.timeout(20):
                while client.status is not TransportStatus.CONNECTED or not (  # noqa: ASYNC110
                    second.server.active_sessions
                ):
                    await asyncio.sleep(0.02)
            await answered(client, "again")
            assert words(model)[:2] == ["I am Ada", "Noted."]  # the client's replay
            assert second.server.metrics is not None
            scraped = second.server.metrics.render().decode()
            assert 'voicewire_sessions_resumed_total{outcome="refused"} 1.0' in scraped
            await client.disconnect()
    finally:
        await client.disconnect()
        for state in states:
            await state.aclose()
