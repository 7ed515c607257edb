"""A client that does not read (issue 9, case 1): its outbox stays under the cap, it is closed
with 1008 and a reason, and its session and model link are released, even when it never takes
the close frame.

Real uvicorn on 127.0.0.1 and a real client socket. Both sides get small kernel buffers (the
server's listening socket and the client's socket), so that what a never-reading client leaves
unread reaches the relay's outbox after a few kilobytes rather than after the megabytes loopback
autotuning would absorb. The client is a ``websockets`` connection with ``max_queue=1``: it
stops reading its socket as soon as one message waits, and the test never calls ``recv()`` until
the server has given up.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from voicewire import RealtimeAgent
from voicewire.protocol import TransportStatus
from voicewire.server import create_app
from voicewire.server.relay import Relay
from voicewire.testing import AudioReply, ScriptedModel

from .conftest import Served, serve

pytestmark = pytest.mark.timeout(60)

SMALL_BUFFER = 8192
TEN_SECONDS_OF_AUDIO = AudioReply("A long story.", duration_ms=10_000, chunk_ms=20)
"""About 660 kB of GA events, sent as fast as the model can: far beyond the small buffers."""


def small_buffer_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)  # accepted sockets inherit
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@asynccontextmanager
async def serve_app(model: ScriptedModel, **options: Any) -> AsyncIterator[Served]:
    agent = RealtimeAgent(id="a", name="A", instructions="Answer.")
    async with serve(create_app(agent, model, **options), small_buffer_listener()) as served:
        yield served


@asynccontextmanager
async def non_reading_client(served: Served) -> AsyncIterator[websockets.ClientConnection]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", served.port))
    async with websockets.connect(
        served.ws_url,
        sock=sock,
        additional_headers={"Authorization": f"Bearer {served.token()}"},
        max_queue=1,
        max_size=None,
        compression=None,  # the test tone would deflate to almost nothing
        ping_interval=None,  # its pongs would never be read
        open_timeout=5,
        close_timeout=1,
    ) as ws:
        yield ws


async def the_relay(served: Served) -> Relay:
    async with asyncio.timeout(5):
        while not served.server.relays:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    [relay] = served.server.relays
    return relay


async def released(relay: Relay, model: ScriptedModel) -> None:
    """Wait until the relay's session is closed and no model connection is left."""
    async with asyncio.timeout(20):
        while model.connections or relay.session.status is not TransportStatus.CLOSED:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def read_to_the_end(ws: websockets.ClientConnection) -> list[str]:
    types: list[str] = []
    with suppress(ConnectionClosed):
        async with asyncio.timeout(20):
            while True:
                message = await ws.recv()
                types.append(json.loads(message)["type"])
    return types


def long_story_model() -> ScriptedModel:
    model = ScriptedModel(model_id="gpt-realtime")
    model.script.default = TEN_SECONDS_OF_AUDIO
    return model


async def test_a_client_that_stops_reading_is_closed_and_its_session_released() -> None:
    model = long_story_model()
    options = {"client_send_timeout": 0.5, "client_close_timeout": 30.0}
    async with serve_app(model, **options) as served, non_reading_client(served) as ws:
        relay = await the_relay(served)
        await ws.send(json.dumps({"type": "response.create"}))
        await released(relay, model)  # given up on, without the client reading a byte

        assert 0 < relay.outbox_peak_bytes <= relay.max_outbox_bytes
        assert relay.outbox_bytes == 0  # what the client did not take was dropped
        types = await read_to_the_end(ws)  # the close frame was waiting for room
        assert ws.close_code == 1008
        assert ws.close_reason == "client too slow: nothing could be sent for 0.5 s"
        assert types[0] == "session.created"
        assert "response.done" not in types  # the end of the story was never sent
        await served.wait_idle(model)


async def test_an_outbox_that_would_go_over_the_cap_closes_the_client() -> None:
    model = long_story_model()
    cap = 64 * 1024
    options = {"max_outbox_bytes": cap, "client_send_timeout": 60.0, "client_close_timeout": 30.0}
    async with serve_app(model, **options) as served, non_reading_client(served) as ws:
        relay = await the_relay(served)
        await ws.send(json.dumps({"type": "response.create"}))
        await released(relay, model)

        assert cap // 2 < relay.outbox_peak_bytes <= cap
        await read_to_the_end(ws)
        assert ws.close_code == 1008
        assert ws.close_reason == f"client too slow: over {cap} bytes waiting to be sent"
        await served.wait_idle(model)


async def test_the_close_does_not_wait_for_a_client_that_never_reads() -> None:
    model = long_story_model()
    options = {"client_send_timeout": 0.3, "client_close_timeout": 0.3}
    async with serve_app(model, **options) as served, non_reading_client(served) as ws:
        await the_relay(served)
        await ws.send(json.dumps({"type": "response.create"}))
        # Everything is released while the client still reads nothing: the close frame could
        # not be written, and the relay did not wait for it longer than its close timeout.
        await served.wait_idle(model)
        assert not served.server.relays

        await read_to_the_end(ws)
        # Usually 1006 (the connection ended without the close frame); 1008 if the ASGI
        # server's own buffer still delivered it once the client read.
        assert ws.close_code in (1006, 1008)


async def test_a_client_that_floods_without_reading_is_slowed_down_not_buffered() -> None:
    """Backpressure: while a reply waits for the socket and the outbox is over half the cap,
    the relay reads no more frames, so a client whose every frame is answered (here with an
    error) cannot fill the outbox: it runs into the send timeout, not the cap."""
    model = ScriptedModel(model_id="gpt-realtime")
    model.script.default = AudioReply("A story.", duration_ms=3000, chunk_ms=20)  # ~220 kB
    cap = 512 * 1024
    options = {"max_outbox_bytes": cap, "client_send_timeout": 3.0, "client_close_timeout": 30.0}
    async with serve_app(model, **options) as served, non_reading_client(served) as ws:
        relay = await the_relay(served)
        await ws.send(json.dumps({"type": "response.create"}))
        async with asyncio.timeout(5):
            while relay.outbox_bytes == 0:  # noqa: ASYNC110  (the reply fills the socket)
                await asyncio.sleep(0.01)

        async def flood() -> None:
            for number in range(5000):  # ~2 MB of error events: far more than the cap
                await ws.send(json.dumps({"type": "no.such.event", "event_id": f"evt_{number}"}))

        flooding = asyncio.create_task(flood())
        await released(relay, model)
        flooding.cancel()
        await asyncio.gather(flooding, return_exceptions=True)

        assert cap // 4 < relay.outbox_peak_bytes < cap
        await read_to_the_end(ws)
        assert ws.close_code == 1008
        assert ws.close_reason == "client too slow: nothing could be sent for 3 s"
        await served.wait_idle(model)
