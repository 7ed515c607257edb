"""MemoryState on a fake clock: when claims and counters are forgotten, and its bounds."""

from __future__ import annotations

import pytest

from voicewire.server.state import CLOCK_SKEW, MemoryState, StateUnavailableError

from ..test_tokens import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def state_on(clock: Clock, **kwargs: int) -> MemoryState:
    # One fake clock serves as both the monotonic and the wall clock.
    return MemoryState(clock=clock, wall_clock=clock, **kwargs)


async def test_a_claim_is_forgotten_only_after_expiry_and_skew(clock: Clock) -> None:
    state = state_on(clock)
    assert await state.claim_once("t", clock.now + 100)
    clock.now += 100 + CLOCK_SKEW - 0.5
    assert not await state.claim_once("t", clock.now + 100)
    clock.now += 1
    assert await state.claim_once("other", clock.now + 100)  # prunes "t"
    assert state.claims == 1
    assert await state.claim_once("t", clock.now + 100)


async def test_a_window_ends_exactly_window_seconds_after_its_first_hit(clock: Clock) -> None:
    state = state_on(clock)
    first = await state.hit("k", limit=1, window=10)
    assert first.retry_after == 10
    clock.now += 9.5
    refused = await state.hit("k", limit=1, window=10)
    assert (refused.allowed, refused.retry_after) == (False, 0.5)
    clock.now += 0.5
    assert (await state.hit("k", limit=1, window=10)).count == 1


async def test_counters_are_bounded_by_forgetting_the_soonest_to_end(clock: Clock) -> None:
    state = state_on(clock, max_counters=3)
    for index in range(10):
        clock.now += 1
        await state.hit(f"addr-{index}", limit=1, window=100)
        assert state.counters <= 3
    # The newest keys are remembered (refused), the oldest forgotten (counted from one again).
    assert not (await state.hit("addr-9", limit=1, window=100)).allowed
    assert (await state.hit("addr-0", limit=1, window=100)).count == 1


async def test_a_full_claim_map_refuses_rather_than_forgets(clock: Clock) -> None:
    state = state_on(clock, max_claims=2)
    assert await state.claim_once("a", clock.now + 10)
    assert await state.claim_once("b", clock.now + 10)
    with pytest.raises(StateUnavailableError, match="single-use tokens"):
        await state.claim_once("c", clock.now + 10)
    assert not await state.claim_once("a", clock.now + 10)  # still remembered
    clock.now += 10 + CLOCK_SKEW
    assert await state.claim_once("c", clock.now + 10)


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryState(max_claims=0)
