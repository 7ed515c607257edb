"""A session's settings outlive an instance that dies without closing: ``voicewire serve`` on Redis,
killed with SIGKILL after a client's ``session.update``, never runs the close path that saves the
settings anyway; what resumes them on another instance is the write-through of the update itself
(the store watches ``session.updated``)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from pydantic_core import from_json

from tests.server.test_tokens_cli import SECRET, echo_served
from voicewire import RealtimeAgent
from voicewire.cli.state_options import REDIS_ENV
from voicewire.cli.token_options import SECRET_ENV
from voicewire.server import create_app
from voicewire.server.state import RedisState
from voicewire.testing import ScriptedModel
from voicewire.testing.redis_server import RedisServer

from ..conftest import Served, serve
from ..test_resume import resumable

pytestmark = pytest.mark.timeout(90)

TERSE = "Answer in five words at most."


async def wait_written(state: RedisState, handle_id: str) -> None:
    """Until the stored config holds the update (polled: the writer batches)."""
    stored = None
    try:
        async with asyncio.timeout(10):
            while stored is None or from_json(stored.config).get("instructions") != TERSE:
                await asyncio.sleep(0.02)
                stored = await state.load_session(handle_id)
    except TimeoutError:
        raise AssertionError(f"the session.update was never written through: {stored}") from None


async def test_a_session_update_resumes_after_its_instance_is_killed(
    agent: RealtimeAgent, redis_server: RedisServer
) -> None:
    model = ScriptedModel()
    # B, where the client resumes: the CLI's secret and Redis (its default key prefix).
    state = RedisState.from_url(redis_server.url)
    env = {REDIS_ENV: redis_server.url, SECRET_ENV: SECRET}
    try:
        async with serve(create_app(agent, model, secret=SECRET, state=state)) as b:
            token = b.server.tokens.issue(subject="alice").token
            async with echo_served(env=env) as served:
                a = Served(b.app, served.port)  # a token of B's opens a session on A: one secret
                async with resumable(a, token) as (client, handle):
                    update = {"instructions": TERSE}
                    await client.send({"type": "session.update", "session": update})
                    await client.until("session.updated")
                    await wait_written(state, b.server.resumer.handles.check(handle, "alice"))
                    os.kill(served.process.pid, signal.SIGKILL)  # no close, no flush
                    await client.ws.wait_closed()

            async with resumable(b, token, handle) as (again, same):
                assert same == handle
                assert again.frames[0]["session"].get("instructions") == TERSE  # session.created
                await resumed_link(model)
                assert TERSE in (model.connections[-1].config.instructions or "")
                await again.send({"type": "response.create"})
                await again.until("response.done")
            await b.wait_idle(model)
    finally:
        await state.aclose()


async def resumed_link(model: ScriptedModel) -> None:
    """Wait for B's fresh model link."""
    async with asyncio.timeout(10):
        while not model.connections:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
