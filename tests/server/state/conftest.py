"""A real ``redis-server`` for the shared-state tests, on a free port of 127.0.0.1
(:class:`~voicewire.testing.redis_server.RedisServer`).

The Debian package provides it (``make redis`` installs it). A machine without it fails these
tests with a message saying so: they never skip, since the Redis backend is what they test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from voicewire.server.state import MemoryState, RedisState, StateBackend
from voicewire.testing.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis shared by the tests that only use it (each with its own key prefix)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start a Redis of this test's own (to stop, pause or password-protect it)."""
    started: list[RedisServer] = []

    def start(password: str | None = None) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(started)}", password=password)
        server.directory.mkdir()
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests sharing one Redis never see each other."""
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_state(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisState]:
    state = RedisState.from_url(redis_server.url, prefix=prefix)
    yield state
    await state.aclose()


@pytest.fixture(params=["memory", "redis"])
async def backend(
    request: pytest.FixtureRequest, redis_server: RedisServer, prefix: str
) -> AsyncIterator[StateBackend]:
    """Each contract test runs against both backends."""
    state: StateBackend = (
        MemoryState()
        if request.param == "memory"
        else RedisState.from_url(redis_server.url, prefix=prefix)
    )
    yield state
    await state.aclose()
