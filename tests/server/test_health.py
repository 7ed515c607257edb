"""``/healthz`` and ``/readyz`` over real sockets."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from voicewire import RealtimeAgent
from voicewire.server import create_app, health
from voicewire.testing import ScriptedModel

from .conftest import serve

pytestmark = pytest.mark.timeout(30)


async def test_ready_and_healthy_by_default(agent: RealtimeAgent, model: ScriptedModel) -> None:
    async with (
        serve(create_app(agent, model)) as served,
        httpx.AsyncClient(base_url=served.http) as http,
    ):
        alive = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"model": "ok", "draining": "no"}}
    assert ready.headers["cache-control"] == "no-store"


async def test_a_failing_check_makes_it_unready_without_quoting_the_error(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model)
    reachable = True

    async def state() -> None:
        if not reachable:
            raise ConnectionError("redis://:hunter2@10.0.0.1:6379 refused")

    app.state.voicewire.readiness.add_check("state", state)
    async with serve(app) as served, httpx.AsyncClient(base_url=served.http) as http:
        assert (await http.get("/readyz")).status_code == 200
        reachable = False
        unready = await http.get("/readyz")
        alive = await http.get("/healthz")
        reachable = True
        again = await http.get("/readyz")
    assert unready.status_code == 503
    assert unready.json()["checks"]["state"] == "failed (ConnectionError)"
    assert "hunter2" not in unready.text
    assert alive.status_code == 200  # alive all the same: restarting would not help
    assert again.status_code == 200


async def test_a_check_that_hangs_answers_503_in_time(
    agent: RealtimeAgent, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.2)
    app = create_app(agent, model)

    async def hangs() -> None:
        await asyncio.Event().wait()

    app.state.voicewire.readiness.add_check("state", hangs)
    async with serve(app) as served, httpx.AsyncClient(base_url=served.http) as http:
        unready = await http.get("/readyz", timeout=5)
    assert unready.status_code == 503
    assert unready.json()["checks"]["state"] == "no answer within 0.2 s"


async def test_a_check_returning_false_fails(agent: RealtimeAgent, model: ScriptedModel) -> None:
    app = create_app(agent, model)

    async def no() -> bool:
        return False

    app.state.voicewire.readiness.add_check("state", no)
    async with serve(app) as served, httpx.AsyncClient(base_url=served.http) as http:
        unready = await http.get("/readyz")
    assert (unready.status_code, unready.json()["checks"]["state"]) == (503, "failed")
