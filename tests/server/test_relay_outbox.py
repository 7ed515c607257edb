"""The relay's outbox at the ASGI boundary: while the socket is full (the ASGI ``send`` blocks),
what later tasks send queues behind, in order, and the reader goes on reading the client.

These drive the app with in-memory ASGI ``receive`` / ``send`` because a full socket cannot be
produced on demand over a real one; the end-to-end behaviour is in test_app_*.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from voicewire import RealtimeAgent
from voicewire.protocol import TextOutputDelta, TransportStatus
from voicewire.server import create_app
from voicewire.session import ReconnectPolicy
from voicewire.testing import ScriptedModel, TextReply

pytestmark = pytest.mark.timeout(20)


class AsgiClient:
    """One WebSocket connection to the app, at the ASGI level, with a valve on the app's sends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received: list[dict[str, Any]] = []
        self.closed: dict[str, Any] | None = None
        self.open = asyncio.Event()
        self.open.set()
        self.blocked = asyncio.Event()  # the app is waiting in send() for the valve
        self._arrived = asyncio.Event()

    async def start(self) -> None:
        token = self.app.state.voicewire.tokens.issue().token
        scope = {
            "type": "websocket",
            "path": "/v1/realtime",
            "root_path": "",
            "query_string": b"model=gpt-realtime",
            "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"test")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "scheme": "ws",
            "subprotocols": [],
        }
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self._send))
        await self.until("session.created")

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            if not self.open.is_set():
                self.blocked.set()
                await self.open.wait()
            self.received.append(json.loads(message["text"]))
        elif message["type"] == "websocket.close":
            self.closed = message
            # As uvicorn does: the app's own close ends its receive loop.
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})
        self._arrived.set()

    def send(self, event: dict[str, Any]) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(event)})

    async def until(self, *types: str) -> list[str]:
        wanted = set(types)
        while not wanted <= {m["type"] for m in self.received}:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), 5)
        return [m["type"] for m in self.received]

    async def finish(self) -> None:
        self.open.set()
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)


@pytest.fixture
def model() -> ScriptedModel:
    model = ScriptedModel(model_id="gpt-realtime")
    model.script.default = TextReply("one two three four", pace=0.01)
    return model


@pytest.fixture
def app(model: ScriptedModel) -> Any:
    return create_app(RealtimeAgent(id="a", name="A", instructions="Answer."), model)


async def test_a_full_socket_queues_later_messages_behind_in_order(app: Any) -> None:
    client = AsgiClient(app)
    await client.start()
    client.open.clear()  # the socket is full from now on
    client.send({"type": "response.create", "event_id": "evt_reply"})
    await asyncio.wait_for(client.blocked.wait(), 5)  # a message of the reply is stuck
    client.send({"type": "no.such.event", "event_id": "evt_bad"})  # the reader still reads
    await asyncio.sleep(0.1)  # the reply finishes meanwhile, into the outbox
    stuck = len(client.received)
    client.open.set()
    types = await client.until("response.done", "error")
    await client.finish()

    assert stuck == 1  # only session.created went out while the socket was full
    reply = [t for t in types if t.startswith("response.")]
    assert reply[0] == "response.created" and reply[-1] == "response.done"
    assert reply.count("response.output_text.delta") == 4
    error = next(m for m in client.received if m["type"] == "error")
    assert error["error"]["event_id"] == "evt_bad"
    # The error was sent after the reply's first message, which was stuck when it came.
    assert types.index("error") > types.index("response.created")


async def model_lost_behind_a_full_socket(model: ScriptedModel) -> AsgiClient:
    """A client whose socket is full (a reply's message stuck) when the model link is lost for
    good (no reconnect)."""
    agent = RealtimeAgent(id="a", name="A", instructions="Answer.")
    client = AsgiClient(create_app(agent, model, reconnect=ReconnectPolicy(attempts=0)))
    await client.start()
    client.open.clear()
    client.send({"type": "response.create"})
    await asyncio.wait_for(client.blocked.wait(), 5)
    [connection] = model.connections
    await connection.drop("upstream went away")
    return client


async def test_a_lost_model_closes_after_what_was_queued(model: ScriptedModel) -> None:
    client = await model_lost_behind_a_full_socket(model)
    assert client.closed is None  # not before what is queued
    client.open.set()
    await client.until("error")
    await asyncio.wait_for(client.task, 5)
    assert client.closed is not None and client.closed["code"] == 1011
    # The link's error, then the cut response is closed for the client (its item and part
    # done, then response.done failed), and only then the connection.
    types = [m["type"] for m in client.received]
    error = client.received[types.index("error")]
    assert error["error"]["code"] == "connection_lost"
    done = client.received[-1]
    assert done["type"] == "response.done" and done["response"]["status"] == "failed"
    assert types.index("error") < types.index("response.output_item.done")


async def test_a_client_event_the_closed_session_refuses_closes_the_connection(
    model: ScriptedModel,
) -> None:
    """The model link is gone for good while the socket is full (its close waits in the outbox
    behind a stuck message); a client event the session can no longer send closes the
    connection at once, 1011 ``session closed``."""
    client = await model_lost_behind_a_full_socket(model)
    client.send({"type": "input_audio_buffer.commit", "event_id": "evt_late"})
    await asyncio.wait_for(client.task, 5)
    assert client.closed is not None
    assert (client.closed["code"], client.closed["reason"]) == (1011, "session closed")


async def test_an_event_during_the_final_close_cannot_cut_the_cleanup_short(
    model: ScriptedModel,
) -> None:
    """The client left; while the relay closes its session, the model still pushes a reply
    that would overflow the outbox. The overflow must not cancel the relay's own cleanup (that
    would leave the model link open)."""
    agent = RealtimeAgent(id="a", name="A", instructions="Answer.")
    client = AsgiClient(create_app(agent, model, max_outbox_bytes=64))
    await client.start()
    [relay] = app_relays(client.app)
    session = relay.session
    close = session.close

    async def close_after_a_late_event() -> None:
        # A model event from another task (a callback here) in the middle of the close.
        late = TextOutputDelta("resp_late", "item_late", "x" * 500)
        asyncio.get_running_loop().call_soon(session._hub.emit, late)
        await asyncio.sleep(0.01)
        await close()

    session.close = close_after_a_late_event  # type: ignore[method-assign]
    client.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(client.task, 5)
    assert not client.task.cancelled()
    assert session.status is TransportStatus.CLOSED
    assert not model.connections  # the model link was released


def app_relays(app: Any) -> list[Any]:
    return list(app.state.voicewire.relays)
