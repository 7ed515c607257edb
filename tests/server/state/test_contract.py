"""The state backend contract: every test runs against MemoryState and RedisState (a real
redis-server), which must behave the same."""

from __future__ import annotations

import asyncio
import time

import pytest

from voicewire.server.state import MemoryState, RateDecision, RedisState, StateBackend


def test_both_backends_are_state_backends() -> None:
    assert isinstance(MemoryState(), StateBackend)
    assert isinstance(RedisState.from_url("redis://127.0.0.1:1/0"), StateBackend)


async def test_a_token_id_is_claimed_once(backend: StateBackend) -> None:
    expires = time.time() + 60
    assert await backend.claim_once("jti-a", expires) is True
    assert await backend.claim_once("jti-a", expires) is False
    assert await backend.claim_once("jti-a", expires + 600) is False
    assert await backend.claim_once("jti-b", expires) is True


async def test_concurrent_claims_of_one_id_give_exactly_one_success(
    backend: StateBackend,
) -> None:
    expires = time.time() + 60
    results = await asyncio.gather(*(backend.claim_once("contended", expires) for _ in range(40)))
    assert results.count(True) == 1
    assert results.count(False) == 39


async def test_a_claim_outlives_its_expiry_by_the_clock_skew(backend: StateBackend) -> None:
    # A token another instance's clock still takes (its exp just passed here) stays spent.
    assert await backend.claim_once("just-expired", time.time() - 1) is True
    assert await backend.claim_once("just-expired", time.time() - 1) is False


async def test_hits_are_allowed_up_to_the_limit_then_refused(backend: StateBackend) -> None:
    decisions = [await backend.hit("client-1", limit=3, window=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]  # refused hits count too
    for decision in decisions:
        assert 0 < decision.retry_after <= 60
    # The window started with the first hit: the time left only shrinks.
    lefts = [d.retry_after for d in decisions]
    assert lefts == sorted(lefts, reverse=True)
    other = await backend.hit("client-2", limit=3, window=60)
    assert other == RateDecision(allowed=True, count=1, retry_after=other.retry_after)


async def test_concurrent_hits_are_counted_exactly(backend: StateBackend) -> None:
    decisions = await asyncio.gather(
        *(backend.hit("burst", limit=10, window=60) for _ in range(60))
    )
    assert sorted(d.count for d in decisions) == list(range(1, 61))
    assert sum(d.allowed for d in decisions) == 10


async def test_a_new_window_starts_from_zero(backend: StateBackend) -> None:
    await backend.hit("short", limit=2, window=0.3)
    await backend.hit("short", limit=2, window=0.3)
    refused = await backend.hit("short", limit=2, window=0.3)
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after + 0.05)
    again = await backend.hit("short", limit=2, window=0.3)
    assert again.allowed
    assert again.count == 1


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (-1, 60), (2, 0), (2, -5), (2.5, 60)])
async def test_an_impossible_limit_is_refused(
    backend: StateBackend, limit: int, window: float
) -> None:
    with pytest.raises(ValueError, match="rate"):
        await backend.hit("k", limit=limit, window=window)


async def test_ping_answers(backend: StateBackend) -> None:
    await backend.ping()
    assert "@" not in backend.description
