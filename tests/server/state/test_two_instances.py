"""Two server instances sharing one real Redis: a single-use token opens one session in total,
and rate limits count both instances' requests. Each instance is its own app on its own uvicorn
on 127.0.0.1, with its own Redis client, as two machines would be."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import InvalidStatus

from voicewire import RealtimeAgent
from voicewire.server import create_app
from voicewire.server.state import MemoryState, RateLimit, RateLimits, RedisState, StateBackend
from voicewire.testing import ScriptedModel

from ..conftest import Served, raw_client, serve, user_text
from .conftest import RedisServer
from .test_app_rate_limits import refusals

pytestmark = pytest.mark.timeout(60)

SECRET = "two-instances-shared-secret-0123456789"


@dataclass
class Opened:
    """How a handshake went: 101, or the refusal's status, headers and JSON body."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (websockets' Headers)
    body: dict[str, Any]

    @property
    def code(self) -> Any:
        return self.body.get("error", {}).get("code")


async def open_session(served: Served, token: str) -> Opened:
    """Open ``WS /v1/realtime`` with ``token``; on success wait for session.created and close."""
    try:
        async with websockets.connect(
            served.ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5
        ) as ws:
            created = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert created["type"] == "session.created"
            return Opened(101, {}, {})
    except InvalidStatus as exc:
        response = exc.response
        return Opened(response.status_code, response.headers, json.loads(response.body or b"{}"))


async def mint(served: Served, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{served.http}/realtime/credential", json={}, headers=headers)


@asynccontextmanager
async def instances(
    agent: RealtimeAgent, states: list[StateBackend], **options: Any
) -> AsyncIterator[list[Served]]:
    """One app per state, each served on its own port; the states are closed afterwards."""
    async with AsyncExitStack() as stack:
        served = []
        for state in states:
            stack.push_async_callback(state.aclose)
            app = create_app(agent, ScriptedModel(), secret=SECRET, state=state, **options)
            served.append(await stack.enter_async_context(serve(app)))
        yield served


def shared(redis_server: RedisServer, prefix: str, count: int = 2) -> list[StateBackend]:
    return [RedisState.from_url(redis_server.url, prefix=prefix) for _ in range(count)]


async def test_a_single_use_token_used_on_one_instance_is_refused_on_the_other(
    agent: RealtimeAgent, redis_server: RedisServer, prefix: str
) -> None:
    async with instances(agent, shared(redis_server, prefix), single_use=True) as (one, two):
        minted = await mint(one)
        assert minted.status_code == 200
        token = minted.json()["credential"]["token"]
        assert (await open_session(one, token)).status == 101
        replayed = await open_session(two, token)
        assert (replayed.status, replayed.code) == (401, "token_replayed")
        assert (await open_session(one, token)).code == "token_replayed"

        # One fresh token presented to both at the same moment opens exactly one session.
        for _ in range(5):
            fresh = one.server.tokens.issue().token
            results = await asyncio.gather(open_session(one, fresh), open_session(two, fresh))
            assert sorted(r.status for r in results) == [101, 401]


async def test_without_a_shared_backend_each_instance_spends_a_token_on_its_own(
    agent: RealtimeAgent,
) -> None:
    # What the Redis backend is for: in-memory state protects one process only.
    async with instances(agent, [MemoryState(), MemoryState()], single_use=True) as (one, two):
        token = one.server.tokens.issue().token
        assert (await open_session(one, token)).status == 101
        assert (await open_session(two, token)).status == 101
        assert (await open_session(two, token)).status == 401


async def test_rate_limits_hold_across_both_instances(
    agent: RealtimeAgent, redis_server: RedisServer, prefix: str
) -> None:
    limits = RateLimits(
        credentials_per_address=RateLimit(3, 60),
        sessions_per_address=RateLimit(2, 60),
        sessions_per_subject=None,
    )
    async with instances(agent, shared(redis_server, prefix), rate_limits=limits) as (one, two):
        assert [(await mint(served)).status_code for served in (one, two, one)] == [200] * 3
        refused = await mint(two)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["Cache-Control"] == "no-store"
        error = refused.json()["error"]
        assert error["code"] == "rate_limit_exceeded"
        assert "credentials per address" in error["message"]
        assert (await mint(one)).status_code == 429

        token = one.server.tokens.issue().token  # not single use: the same token serves all
        assert (await open_session(one, token)).status == 101
        assert (await open_session(two, token)).status == 101
        for served in (one, two):
            limited = await open_session(served, token)
            assert (limited.status, limited.code) == (429, "rate_limit_exceeded")
            assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_sessions_per_subject_are_limited_whatever_the_instance(
    agent: RealtimeAgent, redis_server: RedisServer, prefix: str
) -> None:
    limits = RateLimits(None, None, sessions_per_subject=RateLimit(1, 60))
    async with instances(agent, shared(redis_server, prefix), rate_limits=limits) as (one, two):
        alice = [one.server.tokens.issue(subject="alice").token for _ in range(2)]
        assert (await open_session(one, alice[0])).status == 101
        limited = await open_session(two, alice[1])
        assert (limited.status, limited.code) == (429, "rate_limit_exceeded")
        assert "sessions per subject" in limited.body["error"]["message"]
        assert (await open_session(two, one.server.tokens.issue(subject="bob").token)).status == 101
        # The endpoint's own tokens all carry the anonymous subject: never limited as one.
        for served in (one, two, one):
            assert (await open_session(served, served.server.tokens.issue().token)).status == 101


async def test_with_redis_down_single_use_fails_closed_and_the_rest_keeps_serving(
    agent: RealtimeAgent, own_redis: Callable[..., RedisServer]
) -> None:
    server = own_redis()
    single = RedisState.from_url(server.url, prefix="p:", timeout=5)
    reusable = RedisState.from_url(server.url, prefix="p:", timeout=5)
    async with (
        instances(agent, [single], single_use=True) as (strict,),
        instances(agent, [reusable]) as (lenient,),
    ):
        server.stop()
        assert (await mint(strict)).status_code == 200  # rate limits fail open
        refused = await open_session(strict, strict.server.tokens.issue().token)
        assert (refused.status, refused.code) == (503, "state_unavailable")
        assert strict.server.metrics is not None
        assert refusals(strict.server.metrics.render().decode()) == {"state_unavailable": 1}
        assert (await open_session(lenient, lenient.server.tokens.issue().token)).status == 101
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"{strict.http}/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["state"] != "ok"
            server.start()
            assert (await http.get(f"{strict.http}/readyz")).status_code == 200

        assert (await open_session(strict, strict.server.tokens.issue().token)).status == 101


async def test_a_session_open_before_redis_went_down_keeps_talking(
    agent: RealtimeAgent, own_redis: Callable[..., RedisServer]
) -> None:
    server = own_redis()
    state = RedisState.from_url(server.url, prefix="p:", timeout=5)
    async with (
        instances(agent, [state], single_use=True) as (one,),
        raw_client(one) as client,
    ):
        server.stop()
        for turn in ("hello", "and again"):
            await client.send(user_text(turn))
            await client.send({"type": "response.create"})
            frames = await client.until("response.done")
            assert frames[-1]["response"]["status"] == "completed"
        assert "error" not in client.types()


async def test_the_audio_path_never_touches_redis(
    agent: RealtimeAgent, redis_server: RedisServer, prefix: str
) -> None:
    raw = aioredis.Redis(port=redis_server.port)
    await raw.config_resetstat()
    try:
        async with (
            instances(agent, shared(redis_server, prefix, 1), single_use=True) as (one,),
            raw_client(one) as client,
        ):
            opening = await raw.info("commandstats")  # the session open did use Redis
            assert {"cmdstat_set", "cmdstat_evalsha"} <= set(opening), opening
            await raw.config_resetstat()
            chunk = base64.b64encode(bytes(960)).decode()  # 20 ms of 24 kHz silence
            for _ in range(100):
                await client.send({"type": "input_audio_buffer.append", "audio": chunk})
            await client.send({"type": "input_audio_buffer.commit"})
            await client.until("input_audio_buffer.committed")
            stats = await raw.info("commandstats")
    finally:
        await raw.aclose()
    # No command per audio frame: the only writes are the conversation's, one script call per
    # item change (the committed user item, its transcript; Redis counts the commands each
    # script runs too), far fewer than the 100 frames.
    writes = {n: v["calls"] for n, v in stats.items() if n.split("|")[0] not in _STAT_COMMANDS}
    assert stats.get("cmdstat_evalsha", {"calls": 0})["calls"] <= 4, stats
    assert sum(writes.values()) < 100, writes


_STAT_COMMANDS = {"cmdstat_config", "cmdstat_info"}
