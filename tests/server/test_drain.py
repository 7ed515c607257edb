"""Graceful drain over real sockets: readiness flips, new sessions are refused with 1013, a
response (and its tool) under way finishes, then 1012; a SIGTERM to the served process does it."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
import websockets

from voicewire import RealtimeAgent, RealtimeClient
from voicewire.protocol import TransportStatus
from voicewire.server import create_app
from voicewire.server.workers import listen
from voicewire.testing import ScriptedModel

from .conftest import raw_client
from .limited_server import bearer, closed_with, serve_limited
from .state.test_app_rate_limits import refusals
from .test_session_limits import Gate, ask_the_slow_tool, slow_agent, slow_model

pytestmark = pytest.mark.timeout(40)
__all__ = ["slow_agent", "slow_model"]  # fixtures, imported for pytest


async def test_drain_finishes_the_answer_under_way_then_closes_with_1012(
    slow_agent: RealtimeAgent, slow_model: ScriptedModel
) -> None:
    async with serve_limited(create_app(slow_agent, slow_model, drain_timeout=20)) as served:
        async with httpx.AsyncClient(base_url=served.http) as http:
            assert (await http.get("/readyz")).status_code == 200
            async with raw_client(served) as busy, raw_client(served) as quiet:
                await ask_the_slow_tool(busy)
                draining = asyncio.create_task(served.server.drain())
                # The quiet session goes at once, with 1012...
                code, reason = await closed_with(quiet.ws)
                assert (code, reason) == (1012, "server restarting: reconnect")
                # ... the instance reports it is not ready, and refuses new sessions...
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["draining"] == "yes"
                assert (await http.get("/healthz")).status_code == 200
                async with websockets.connect(served.ws_url, **bearer(served)) as late:
                    code, reason = await closed_with(late)
                assert code == 1013 and "draining" in reason
                assert served.server.metrics is not None
                metrics_text = served.server.metrics.render().decode()
                assert refusals(metrics_text) == {"server_draining": 1}
                # ... while the busy one is still served, its tool still running.
                await served.until(lambda: served.server.active_sessions == 1)  # quiet is gone
                assert not draining.done()
                Gate.release.set()
                said = await busy.until("response.done")
                [answer] = [f["text"] for f in said if f["type"] == "response.output_text.done"]
                assert answer == "Found it."
                assert said[-1]["response"]["status"] == "completed"
                code, reason = await closed_with(busy.ws)
                assert code == 1012
                await asyncio.wait_for(draining, 5)
            assert (await http.get("/readyz")).status_code == 503  # never ready again
        await served.wait_idle(slow_model)


async def test_drain_timeout_bounds_a_tool_that_does_not_finish(
    slow_agent: RealtimeAgent, slow_model: ScriptedModel
) -> None:
    async with serve_limited(create_app(slow_agent, slow_model, drain_timeout=0.5)) as served:
        async with raw_client(served) as busy:
            await ask_the_slow_tool(busy)
            draining = asyncio.create_task(served.server.drain())
            code, _ = await closed_with(busy.ws)  # the tool is never released
            assert code == 1012
            await asyncio.wait_for(draining, 5)
        await served.wait_idle(slow_model)


async def test_sigterm_drains_the_served_app_before_it_stops(
    slow_agent: RealtimeAgent, slow_model: ScriptedModel
) -> None:
    # The signal goes to this very process: the server's handler takes it, as under serve.
    async with (
        serve_limited(create_app(slow_agent, slow_model, drain_timeout=20)) as served,
        raw_client(served) as busy,
    ):
        await ask_the_slow_tool(busy)
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(5):
            while not served.server.readiness.draining:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        Gate.release.set()
        said = await busy.until("response.done")
        assert said[-1]["response"]["status"] == "completed"
        code, _ = await closed_with(busy.ws)
        assert code == 1012


async def test_the_python_client_reconnects_after_1012_to_the_next_instance(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    from voicewire.providers import openai

    secret = "one-secret-for-both-instances-of-this-service"
    async with serve_limited(create_app(agent, model, secret=secret)) as first:
        port = first.port
        upstream = openai.realtime(base_url=f"ws://127.0.0.1:{port}/v1")
        client = RealtimeClient(RealtimeAgent(id="app", name="App", instructions=""), upstream)
        statuses: list[TransportStatus] = []
        client.on_status(statuses.append)
        await client.connect(first.server.tokens.issue())
        await first.server.drain()  # its session gets 1012, and this instance stops
    try:
        # The next instance comes up at the same address (as a load balancer's would).
        sock = listen("127.0.0.1", port, reuse_port=False)
        async with serve_limited(create_app(agent, model, secret=secret), sock=sock) as second:
            async with asyncio.timeout(20):
                while client.status is not TransportStatus.CONNECTED or not (  # noqa: ASYNC110
                    second.server.active_sessions
                ):
                    await asyncio.sleep(0.02)
            assert TransportStatus.RECONNECTING in statuses
            assert TransportStatus.DISCONNECTED not in statuses
            await client.disconnect()
            await second.wait_idle()
    finally:
        await client.disconnect()
