"""Session limits over real sockets: capacity (1013), idle (1000 ``idle``), time limit (1000),
each answered with a close code and a reason the client can read."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
import websockets

from voicewire import RealtimeAgent, tool
from voicewire.protocol import ConfigurationError
from voicewire.server import create_app
from voicewire.server.limits import Activity
from voicewire.session import RealtimeSession
from voicewire.testing import ScriptedModel, TextReply, ToolCallReply

from .conftest import RawClient, raw_client, serve, user_text
from .limited_server import bearer, closed_with
from .state.test_app_rate_limits import refusals

pytestmark = pytest.mark.timeout(30)
SILENCE = base64.b64encode(bytes(960)).decode()


class Gate:
    """When the slow tool started, and when it may finish (new events for each test's loop)."""

    started = asyncio.Event()
    release = asyncio.Event()


@tool
async def slow_lookup(query: str) -> str:
    """A lookup that takes as long as the test says."""
    Gate.started.set()
    await Gate.release.wait()
    return f"found {query}"


async def ask_the_slow_tool(client: RawClient) -> None:
    """Ask for an answer that calls the slow tool; return once the tool runs."""
    await client.send(user_text("look it up"))
    await client.send({"type": "response.create"})
    await asyncio.wait_for(Gate.started.wait(), 5)


@pytest.fixture
def slow_agent() -> RealtimeAgent:
    Gate.started, Gate.release = asyncio.Event(), asyncio.Event()
    return RealtimeAgent(id="slow", name="Slow", instructions="be brief", tools=[slow_lookup])


@pytest.fixture
def slow_model() -> ScriptedModel:
    scripted = ScriptedModel(model_id="scripted-realtime")
    scripted.script.default = TextReply("Hello.")
    scripted.script.on(
        "look", ToolCallReply("slow_lookup", {"query": "it"}, then=TextReply("Found it."))
    )
    return scripted


async def test_a_session_beyond_max_sessions_is_closed_with_1013_and_a_reason(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model, max_sessions=1)) as served:
        async with raw_client(served) as first:
            async with websockets.connect(served.ws_url, **bearer(served)) as extra:
                code, reason = await closed_with(extra)
            assert code == 1013
            assert "capacity" in reason and "try again later" in reason
            assert served.server.active_sessions == 1
            assert served.server.metrics is not None  # an operator sees the refusals
            assert refusals(served.server.metrics.render().decode()) == {"server_at_capacity": 1}
            await first.send(user_text("still here?"))
            await first.send({"type": "response.create"})
            await first.until("response.done")  # the session in place goes on
        await served.wait_idle(model)
        async with raw_client(served) as again:  # a freed slot is taken again
            await again.send(user_text("hello"))
            await again.send({"type": "response.create"})
            await again.until("response.done")


async def test_a_single_use_token_refused_for_capacity_is_not_spent(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model, max_sessions=1, single_use=True)) as served:
        kept = served.token()
        headers = {"additional_headers": {"Authorization": f"Bearer {kept}"}, "open_timeout": 5}
        async with raw_client(served), websockets.connect(served.ws_url, **headers) as extra:
            assert (await closed_with(extra))[0] == 1013
        await served.wait_idle(model)
        async with websockets.connect(served.ws_url, **headers) as again:  # the token still opens
            assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "session.created"
        forged = {"additional_headers": {"Authorization": "Bearer a.b.c"}, "open_timeout": 5}
        async with raw_client(served):  # full again: a bad token is still refused as bad
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(served.ws_url, **forged)
        assert refused.value.response.status_code == 401


async def test_concurrent_handshakes_never_overshoot_max_sessions(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model, max_sessions=2)) as served:
        decided: list[str] = []
        all_decided = asyncio.Event()

        def outcome(what: str) -> str:
            decided.append(what)
            if len(decided) == 6:
                all_decided.set()
            return what

        async def attempt() -> str:
            async with websockets.connect(served.ws_url, **bearer(served)) as ws:
                try:
                    first = json.loads(await asyncio.wait_for(ws.recv(), 5))
                except websockets.ConnectionClosed as closed:
                    assert closed.rcvd is not None
                    return outcome(str(closed.rcvd.code))
                outcome(str(first["type"]))
                await asyncio.wait_for(all_decided.wait(), 10)  # hold the slot until all know
                return str(first["type"])

        outcomes = await asyncio.gather(*(attempt() for _ in range(6)))
    assert sorted(outcomes) == ["1013"] * 4 + ["session.created"] * 2


async def test_an_idle_session_is_closed_with_1000_idle(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model, idle_timeout=1.0)) as served:
        async with websockets.connect(served.ws_url, **bearer(served)) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            # Client frames the model does not answer keep it open past several idle timeouts
            # (a frame every tenth of the timeout: a loaded machine's delays stay far below)...
            for _ in range(25):
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": SILENCE}))
                await asyncio.sleep(0.1)
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            assert json.loads(await ws.recv())["type"] == "input_audio_buffer.cleared"
            # ... and silence closes it.
            code, reason = await closed_with(ws)
        assert (code, reason) == (1000, "idle: no activity for 1 s")
        await served.wait_idle(model)


async def test_a_tool_running_longer_than_the_idle_timeout_is_not_idle(
    slow_agent: RealtimeAgent, slow_model: ScriptedModel
) -> None:
    async with serve(create_app(slow_agent, slow_model, idle_timeout=0.3)) as served:
        async with raw_client(served) as client:
            await ask_the_slow_tool(client)  # the client sees nothing of the call
            await asyncio.sleep(0.9)  # three idle timeouts with nothing on the wire
            Gate.release.set()
            said = await client.until("response.done")
            [answer] = [f["text"] for f in said if f["type"] == "response.output_text.done"]
            assert answer == "Found it."
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await client.recv(5)
        assert closed.value.rcvd is not None and closed.value.rcvd.reason.startswith("idle")


async def test_a_session_is_closed_at_its_time_limit_even_when_active(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model, idle_timeout=None, max_session_duration=0.6)
    async with serve(app) as served:
        async with websockets.connect(served.ws_url, **bearer(served)) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            seen: list[str] = []

            async def chatter() -> None:
                while True:
                    await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
                    await asyncio.sleep(0.05)

            talking = asyncio.create_task(chatter())
            try:
                async with asyncio.timeout(10):
                    try:
                        while True:
                            seen.append(json.loads(await ws.recv())["type"])
                    except websockets.ConnectionClosed as closed:
                        rcvd = closed.rcvd
            finally:
                talking.cancel()
                await asyncio.gather(talking, return_exceptions=True)
        assert rcvd is not None and rcvd.code == 1000
        assert rcvd.reason == "session time limit: open for 0.6 s"
        assert "input_audio_buffer.cleared" in seen  # it was busy talking meanwhile
        await served.wait_idle(model)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_sessions": 0},
        {"idle_timeout": 0},
        {"max_session_duration": -1},
        {"drain_timeout": 0},
    ],
)
def test_limits_must_be_positive(
    agent: RealtimeAgent, model: ScriptedModel, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        create_app(agent, model, **kwargs)


class Traffic:
    """Message counts as a relay keeps them."""

    frames_in = 0
    frames_out = 0


async def test_activity_is_a_message_either_way_since_the_last_check(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    """The idle clock reads the relay's message counts at each check (no clock per frame)."""
    session = RealtimeSession(agent, model=model, stream_events=False)
    traffic = Traffic()
    activity = Activity(session, traffic)
    try:
        activity.check(100.0)  # the first look counts as activity: the session just opened
        assert activity.last == 100.0
        activity.check(101.0)
        assert activity.last == 100.0  # nothing went either way
        traffic.frames_in += 1
        activity.check(102.0)
        assert activity.last == 102.0
        traffic.frames_out += 3  # the model talking to a silent client is activity too
        activity.check(103.0)
        assert activity.last == 103.0
        activity.check(104.0)
        assert activity.last == 103.0 and not activity.busy
    finally:
        activity.unsubscribe()
