"""When the model side fails: clear errors for the client, nothing leaked, nothing left running."""

from __future__ import annotations

import json
import logging

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from voicewire import RealtimeAgent, tool
from voicewire.protocol import AuthenticationError, ConnectOptions, ItemCreate
from voicewire.server import create_app
from voicewire.session import ReconnectPolicy
from voicewire.testing import ScriptedConnection, ScriptedModel, TextReply, ToolCallReply

from .conftest import raw_client, serve, user_text

pytestmark = pytest.mark.timeout(20)

KEY = "sk-proj-UPSTREAMCANARY-0a1b2c3d4e"


class OnceModel(ScriptedModel):
    """Connects once; every later attempt is refused."""

    connect_attempts = 0

    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        self.connect_attempts += 1
        if self.connect_attempts > 1:
            raise ConnectionRefusedError("upstream is down")
        return await super().connect(options)


class RefusingModel(ScriptedModel):
    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        raise AuthenticationError(f"provider refused the key {KEY} (HTTP 401)")


async def test_model_that_cannot_connect_says_so(
    agent: RealtimeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voicewire")
    async with serve(create_app(agent, RefusingModel())) as running:
        headers = {"Authorization": f"Bearer {running.token()}"}
        async with websockets.connect(running.ws_url, additional_headers=headers) as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        await running.wait_idle()
    assert error["type"] == "error"
    assert error["error"]["code"] == "model_unavailable"
    assert error["error"]["type"] == "server_error"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    logged = caplog.text
    assert "could not connect" in logged and "AuthenticationError" in logged
    assert KEY not in logged and KEY not in json.dumps(error)


async def test_losing_the_model_for_good_ends_the_connection(agent: RealtimeAgent) -> None:
    model = OnceModel()
    app = create_app(agent, model, reconnect=ReconnectPolicy(attempts=2, initial_delay=0.01))
    async with serve(app) as served, raw_client(served) as client:
        [connection] = model.connections
        await connection.drop("upstream went away")
        [*_, error] = await client.until("error")
        assert error["error"]["code"] == "connection_lost"
        assert error["error"]["type"] == "server_error"
        assert "upstream went away; 2 attempts to reconnect failed" in error["error"]["message"]
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        assert model.connect_attempts == 3  # the first, then the two the policy allows
    await served.wait_idle(model)


async def test_a_brief_loss_of_the_model_is_invisible_to_the_client(
    agent: RealtimeAgent,
) -> None:
    model = ScriptedModel(model_id="gpt-realtime")
    model.script.default = TextReply("still here")
    app = create_app(agent, model, reconnect=ReconnectPolicy(initial_delay=0.01))
    async with serve(app) as served, raw_client(served) as client:
        await client.send(user_text("hello"))
        await client.send({"type": "response.create"})
        await client.until("response.done")
        [connection] = model.connections
        await connection.drop("upstream went away")
        await client.send(user_text("are you there?"))
        await client.send({"type": "response.create"})
        frames = await client.until("response.done")
        assert "error" not in [f["type"] for f in frames]
        assert model.connect_count == 2
        replayed = [e for e in model.received if isinstance(e, ItemCreate)]
        assert [i.item.text for i in replayed] == [  # type: ignore[union-attr]
            "hello",  # the first link
            "hello",  # replayed to the second, before what came next
            "still here",
            "are you there?",
        ]
    await served.wait_idle(model)


@tool
async def flaky_lookup(query: str) -> str:
    """Look something up (always fails)."""
    raise RuntimeError(f"database password is hunter2, query {query}")


async def test_tool_failures_stay_on_the_server(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voicewire")
    agent = RealtimeAgent(id="a", name="A", instructions="x", tools=[flaky_lookup])
    model = ScriptedModel()
    model.script.default = ToolCallReply(
        "flaky_lookup", {"query": "x"}, then=TextReply("Sorry, that failed.")
    )
    async with serve(create_app(agent, model)) as running, raw_client(running) as client:
        await client.send(user_text("look it up"))
        await client.send({"type": "response.create"})
        frames = await client.until("response.done")
    assert "error" not in [f["type"] for f in client.frames]
    assert "hunter2" not in str(client.frames)
    [answer] = [f["text"] for f in frames if f["type"] == "response.output_text.done"]
    assert answer == "Sorry, that failed."
    assert "tool error" in caplog.text
