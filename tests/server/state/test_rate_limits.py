"""Throttle: the limits applied through a backend, their refusals, and a backend that is down."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import pytest

from voicewire.protocol import ConfigurationError
from voicewire.server.state import (
    MemoryState,
    RateLimit,
    RateLimited,
    RateLimits,
    RedisState,
    Throttle,
)

from .conftest import RedisServer


async def test_each_rule_counts_its_own_identity_against_its_own_limit() -> None:
    throttle = Throttle(
        MemoryState(), RateLimits(RateLimit(2, 60), RateLimit(1, 60), RateLimit(3, 60))
    )
    assert await throttle.credential("198.51.100.4") is None
    assert await throttle.credential("198.51.100.4") is None
    refused = await throttle.credential("198.51.100.4")
    assert isinstance(refused, RateLimited)
    assert refused.rule == "credentials per address"
    assert 1 <= refused.retry_after <= 60
    assert "198.51" not in refused.message  # the client is told the rule, not who it counted
    assert await throttle.credential("b") is None
    # Session opens are counted apart from credentials, per address and per subject.
    assert await throttle.session_address("a") is None
    assert await throttle.session_address("a") is not None
    for _ in range(3):
        assert await throttle.session_subject("user-1") is None
    limited = await throttle.session_subject("user-1")
    assert limited is not None and limited.rule == "sessions per subject"


async def test_retry_after_is_whole_seconds_rounded_up() -> None:
    throttle = Throttle(MemoryState(), RateLimits(credentials_per_address=RateLimit(1, 2.5)))
    await throttle.credential("a")
    refused = await throttle.credential("a")
    assert refused is not None and refused.retry_after == 3


async def test_disabled_limits_never_refuse() -> None:
    throttle = Throttle(MemoryState(), RateLimits.disabled())
    for _ in range(200):
        assert await throttle.credential("a") is None
        assert await throttle.session_address("a") is None
        assert await throttle.session_subject("s") is None


def test_defaults_limit_every_rule() -> None:
    limits = RateLimits()
    for limit in (
        limits.credentials_per_address,
        limits.sessions_per_address,
        limits.sessions_per_subject,
    ):
        assert limit is not None and limit.requests >= 10 and limit.seconds == 60


@pytest.mark.parametrize(
    ("requests", "seconds"), [(0, 60), (-3, 60), (1.5, 60), (5, 0), (5, -1), (5, math.inf)]
)
def test_an_impossible_limit_is_a_configuration_error(requests: int, seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="rate limit"):
        RateLimit(requests, seconds)


async def test_a_backend_that_is_down_lets_requests_through_and_warns_once(
    own_redis: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis()
    state = RedisState.from_url(server.url, prefix="t:", timeout=5)
    throttle = Throttle(state, RateLimits(credentials_per_address=RateLimit(1, 60)))
    try:
        assert await throttle.credential("a") is None
        assert await throttle.credential("a") is not None
        server.stop()
        with caplog.at_level(logging.WARNING, logger="voicewire.server"):
            for _ in range(3):
                assert await throttle.credential("a") is None
            not_enforced = [r for r in caplog.records if "not enforced" in r.getMessage()]
            assert len(not_enforced) == 1
            assert f"127.0.0.1:{server.port}" in not_enforced[0].getMessage()
            server.start()
            assert await throttle.credential("a") is None  # a fresh Redis: a fresh count
            assert await throttle.credential("a") is not None
            assert any("enforced again" in r.getMessage() for r in caplog.records)
    finally:
        await state.aclose()


async def test_a_hammering_client_is_logged_once_a_window(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    state = MemoryState(clock=lambda: now[0])
    throttle = Throttle(state, RateLimits(credentials_per_address=RateLimit(1, 60)))
    with caplog.at_level(logging.DEBUG, logger="voicewire.server"):
        for _ in range(50):
            await throttle.credential("198.51.100.4")
        now[0] += 60
        for _ in range(50):
            await throttle.credential("198.51.100.4")
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused ")]
    assert len(refusals) == 98
    warnings = [r for r in refusals if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # the first refusal of each window
    assert "198.51.100.4" in warnings[0].getMessage()
    assert "credentials per address" in warnings[0].getMessage()
