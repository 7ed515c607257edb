"""Connection limits over raw TCP sockets: a client that never completes a request head gets
408 and is let go; ``limit_concurrency`` answers 503; a WebSocket outlives the head deadline."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from voicewire import RealtimeAgent
from voicewire.protocol import ConfigurationError
from voicewire.server import create_app
from voicewire.server.http_limits import ServeOptions
from voicewire.testing import ScriptedModel

from .conftest import Served, raw_client, user_text
from .limited_server import serve_limited

pytestmark = pytest.mark.timeout(30)

FAST = ServeOptions(header_timeout=0.3, keep_alive_timeout=5)


async def _everything(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes (bounded: a server that holds on fails)."""
    return await asyncio.wait_for(reader.read(), 5)


async def _connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", served.port)


async def _exchange(served: Served, request: bytes) -> bytes:
    """Send ``request`` (nothing: ``b""``) on a new connection; all the server answers."""
    reader, writer = await _connect(served)
    writer.write(request)
    try:
        return await _everything(reader)
    finally:
        writer.close()


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
HEALTHZ_ONCE = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


async def test_a_connection_that_never_sends_a_request_line_gets_408_and_is_closed(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve_limited(create_app(agent, model), FAST) as served:
        answer = await _exchange(served, b"")
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert answer.endswith(b"no complete request head in time\r\n")


async def test_headers_trickled_byte_by_byte_do_not_hold_the_connection(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve_limited(create_app(agent, model), FAST) as served:
        reader, writer = await _connect(served)

        async def trickle() -> None:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            for _ in range(100):  # never a blank line
                writer.write(b"X")
                await writer.drain()
                await asyncio.sleep(0.05)

        dripping = asyncio.create_task(trickle())
        try:
            answer = await _everything(reader)
        finally:
            dripping.cancel()
            await asyncio.gather(dripping, return_exceptions=True)
            writer.close()
    assert answer.startswith(b"HTTP/1.1 408")


async def test_a_request_in_time_is_served_and_the_next_head_is_due_too(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve_limited(create_app(agent, model), FAST) as served:
        answer = await _exchange(served, HEALTHZ)  # kept alive, then 408 for the next head
    first, _, rest = answer.partition(b"\r\n")
    assert first == b"HTTP/1.1 200 OK"
    assert b'{"status":"ok"}' in rest
    assert rest.count(b"HTTP/1.1 408") == 1


async def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_timeout(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    options = ServeOptions(header_timeout=30, keep_alive_timeout=0.3)
    async with serve_limited(create_app(agent, model), options) as served:
        answer = await _exchange(served, HEALTHZ)
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"408" not in answer


async def test_a_websocket_session_outlives_the_head_deadline(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with (
        serve_limited(create_app(agent, model), FAST) as served,
        raw_client(served) as client,
    ):
        await asyncio.sleep(1.0)  # over three head deadlines
        await client.send(user_text("hello"))
        await client.send({"type": "response.create"})
        said = await client.until("response.done")
    assert said[-1]["response"]["status"] == "completed"


async def test_limit_concurrency_answers_503_past_the_limit(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    options = ServeOptions(header_timeout=30, limit_concurrency=2)
    async with serve_limited(create_app(agent, model), options) as served:
        held = [await _connect(served) for _ in range(2)]
        await served.until(lambda: served.connections == 2)  # the server has taken both
        refused = await _exchange(served, HEALTHZ_ONCE)
        for _, w in held:
            w.close()
        await served.until(lambda: served.connections == 0)
        served_again = await _exchange(served, HEALTHZ_ONCE)
    assert refused.startswith(b"HTTP/1.1 503")
    assert served_again.startswith(b"HTTP/1.1 200")


async def test_the_session_limits_hold_under_the_served_server_too(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with (
        serve_limited(create_app(agent, model, max_sessions=1), FAST) as served,
        raw_client(served),
    ):
        headers = {"Authorization": f"Bearer {served.token()}"}
        async with websockets.connect(served.ws_url, additional_headers=headers) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


@pytest.mark.parametrize(
    "kwargs",
    [{"header_timeout": 0}, {"keep_alive_timeout": -1}, {"limit_concurrency": 0}],
)
def test_serve_options_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        ServeOptions(**kwargs)  # type: ignore[arg-type]
