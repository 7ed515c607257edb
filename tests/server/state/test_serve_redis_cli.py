"""``voicewire serve --redis`` as a real process with two workers: a single-use token opens one
session in total (each worker used to take it once), and a Redis that cannot be reached is one
clear line before anything is served."""

from __future__ import annotations

import httpx
import jwt
import pytest
import redis.asyncio as aioredis

from tests.cli.support import free_port
from tests.cli.test_converse_cli import run_cli
from tests.server.test_tokens_cli import echo_served, opens
from voicewire.cli.state_options import REDIS_ENV

from .conftest import RedisServer

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_workers_on_redis_spend_a_single_use_token_once(
    redis_server: RedisServer, workers: str
) -> None:
    raw = aioredis.Redis(port=redis_server.port)
    env = {REDIS_ENV: redis_server.url}
    try:
        async with echo_served("--workers", workers, "--single-use", env=env) as served:
            async with httpx.AsyncClient(base_url=served.url) as http:
                ready = await http.get("/readyz")
                assert ready.json()["checks"]["state"] == "ok"
                minted = await http.post("/realtime/credential", json={})
            token = minted.json()["credential"]["token"]
            assert await opens(served.port, token) is None
            # New connections spread over both workers: every one of them refuses the replay.
            assert [await opens(served.port, token) for _ in range(16)] == [401] * 16
            jti = jwt.decode(token, options={"verify_signature": False})["jti"]
            assert await raw.exists(f"voicewire:jti:{jti}")  # spent in Redis
    finally:
        await raw.aclose()


async def test_an_unreachable_redis_is_one_clear_line() -> None:
    port = free_port()
    code, out, err = await run_cli(
        "serve",
        "--model",
        "scripted",
        "--port",
        str(free_port()),
        "--redis",
        f"redis://:hunter2-redis-pass@127.0.0.1:{port}/0",
    )
    assert code == 2, (out, err)
    assert "cannot reach Redis" in err and f"127.0.0.1:{port}" in err
    assert "hunter2" not in out + err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [("--redis", "http://example.com/", "not a Redis URL"), ("--trusted-proxy", "*", "'*'")],
)
async def test_bad_state_options_are_refused_before_serving(
    option: str, value: str, says: str
) -> None:
    code, _, err = await run_cli(
        "serve", "--model", "scripted", "--port", str(free_port()), option, value
    )
    assert code == 2 and says in err and "Traceback" not in err
