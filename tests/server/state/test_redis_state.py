"""RedisState against a real redis-server: sharing between clients, key lifetimes, and a Redis
that is down, frozen or password-protected."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from voicewire.server.state import CLOCK_SKEW, RedisState, StateUnavailableError
from voicewire.testing import redis_server as redis_launcher

from .conftest import RedisServer


async def test_two_clients_with_one_prefix_share_claims_and_counters(
    redis_server: RedisServer, prefix: str
) -> None:
    first = RedisState.from_url(redis_server.url, prefix=prefix)
    second = RedisState.from_url(redis_server.url, prefix=prefix)
    elsewhere = RedisState.from_url(redis_server.url, prefix=prefix + "other:")
    try:
        expires = time.time() + 60
        assert await first.claim_once("shared", expires)
        assert not await second.claim_once("shared", expires)
        assert await elsewhere.claim_once("shared", expires)  # another prefix, another deployment

        assert (await first.hit("addr", limit=2, window=60)).count == 1
        assert (await second.hit("addr", limit=2, window=60)).count == 2
        refused = await first.hit("addr", limit=2, window=60)
        assert (refused.allowed, refused.count) == (False, 3)
        assert (await elsewhere.hit("addr", limit=2, window=60)).count == 1
    finally:
        for state in (first, second, elsewhere):
            await state.aclose()


async def test_keys_expire_with_the_token_and_the_window(
    redis_server: RedisServer, redis_state: RedisState, prefix: str
) -> None:
    raw = aioredis.Redis(port=redis_server.port)
    try:
        await redis_state.claim_once("lifetime", time.time() + 100)
        left = await raw.pttl(f"{prefix}jti:lifetime")
        assert (100 + CLOCK_SKEW - 2) * 1000 < left <= (100 + CLOCK_SKEW) * 1000

        await redis_state.hit("window", limit=5, window=30)
        left = await raw.pttl(f"{prefix}rate:window")
        assert 28_000 < left <= 30_000
        # A counter that somehow lost its expiry gets one back on its next hit, instead of
        # refusing that client for ever.
        await raw.persist(f"{prefix}rate:window")
        decision = await redis_state.hit("window", limit=5, window=30)
        assert decision.count == 2
        assert 0 < await raw.pttl(f"{prefix}rate:window") <= 30_000
    finally:
        await raw.aclose()


async def test_a_stopped_redis_is_a_clear_error_and_a_restarted_one_is_used_again(
    own_redis: Callable[..., RedisServer],
) -> None:
    server = own_redis()
    state = RedisState.from_url(server.url, prefix="p:", timeout=5)
    try:
        assert await state.claim_once("before", time.time() + 60)
        server.stop()
        for attempt in (
            state.claim_once("during", time.time() + 60),
            state.hit("k", limit=1, window=60),
            state.ping(),
        ):
            with pytest.raises(StateUnavailableError) as caught:
                await attempt
            assert f"127.0.0.1:{server.port}" in caught.value.message
            assert caught.value.code == "state_unavailable"
        server.start()  # same port, empty: the pooled connections are dead
        assert await state.claim_once("after", time.time() + 60)
        await state.ping()
    finally:
        await state.aclose()


async def test_a_frozen_redis_times_out_instead_of_hanging(
    own_redis: Callable[..., RedisServer],
) -> None:
    server = own_redis()
    state = RedisState.from_url(server.url, prefix="p:", timeout=0.3)
    try:
        await state.ping()
        server.pause()
        with pytest.raises(StateUnavailableError, match="Timeout"):
            await state.claim_once("frozen", time.time() + 60)
        server.resume()
        # The claim sent to the frozen server may have landed: it is never granted twice.
        assert await state.claim_once("thawed", time.time() + 60)
    finally:
        await state.aclose()


async def test_no_password_in_errors_or_repr(own_redis: Callable[..., RedisServer]) -> None:
    server = own_redis(password="s3cret-redis-pass")
    wrong = RedisState.from_url(server.url.replace("s3cret-redis-pass", "wrong-pass-123"))
    right = RedisState.from_url(server.url)
    try:
        with pytest.raises(StateUnavailableError) as caught:
            await wrong.claim_once("x", time.time() + 60)
        shown = f"{caught.value} {caught.value!r} {wrong!r} {wrong.description}"
        assert "wrong-pass-123" not in shown
        assert f"127.0.0.1:{server.port}" in shown
        assert "s3cret-redis-pass" not in f"{right!r} {right.description}"
        assert await right.claim_once("x", time.time() + 60)
    finally:
        await wrong.aclose()
        await right.aclose()


def test_a_bad_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="not a Redis URL") as caught:
        RedisState.from_url("http://user:hunter2-pass@example.com/")
    assert "hunter2" not in str(caught.value)


def test_a_machine_without_redis_server_fails_these_tests_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_launcher, "REDIS_SERVER", str(tmp_path / "no-redis-server"))
    with pytest.raises(redis_launcher.RedisServerError, match="make redis"):
        RedisServer(tmp_path).start()


def test_a_port_taken_between_probe_and_start_is_given_up_for_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy:  # what another test run may bind in the meantime
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken: int = busy.getsockname()[1]
        offered = iter([taken])
        free_port = redis_launcher._free_port
        monkeypatch.setattr(redis_launcher, "_free_port", lambda: next(offered, 0) or free_port())
        server = RedisServer(tmp_path)
        try:
            server.start()
            assert server.port != taken
            assert server.process is not None and server.process.poll() is None
        finally:
            server.stop()


def test_redis_server_does_not_outlive_a_test_run_that_dies(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from tests.server.state.conftest import RedisServer\n"
        f"server = RedisServer(Path({str(tmp_path)!r}))\n"
        "server.start()\n"
        "print(server.process.pid, flush=True)\n"
        "os._exit(1)  # no teardown: as when a run is killed\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, timeout=60, check=False
    )
    assert run.stdout.strip(), run.stderr.decode()[-2000:]
    pid = int(run.stdout.split()[0])
    try:
        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _running(pid), "redis-server outlived the process that started it"
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
