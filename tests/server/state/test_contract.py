"""The state backend contract: every test runs against MemoryState and RedisState (a real
redis-server), which must behave the same."""

from __future__ import annotations

import asyncio
import time

import pytest

from voicewire.server.state import (
    MemoryState,
    RateDecision,
    RedisState,
    StateBackend,
    StoredSession,
)


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
    # A window of 1 s: the three hits must land in one window on a loaded machine too.
    await backend.hit("short", limit=2, window=1)
    await backend.hit("short", limit=2, window=1)
    refused = await backend.hit("short", limit=2, window=1)
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after + 0.05)
    again = await backend.hit("short", limit=2, window=1)
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


async def test_a_conversation_is_stored_item_by_item_in_order(backend: StateBackend) -> None:
    assert await backend.load_session("h1") is None
    await backend.put_item("h1", "lost", b"{}", None, 60)  # not saved yet: nothing to add to
    await backend.save_session("h1", b'{"voice":"alloy"}', 60)
    await backend.put_item("h1", "a", b'"A"', None, 60)
    await backend.put_item("h1", "c", b'"C"', "a", 60)
    await backend.put_item("h1", "b", b'"B"', "a", 60)  # after a, before c
    await backend.put_item("h1", "a", b'"A2"', None, 60)  # an update stays where it is
    await backend.put_item("h1", "d", b'"D"', "unknown", 60)  # at the end
    before = await backend.load_session("h1")
    assert before is not None and before.items == (b'"A2"', b'"B"', b'"C"', b'"D"')
    await backend.delete_item("h1", "c", 60)
    await backend.delete_item("h1", "never", 60)
    stored = await backend.load_session("h1")
    assert stored is not None
    assert stored.config == b'{"voice":"alloy"}'
    assert stored.items == (b'"A2"', b'"B"', b'"D"')
    await backend.save_session("h1", b"{}", 60)  # a new config keeps the items
    again = await backend.load_session("h1")
    assert again is not None and (again.config, len(again.items)) == (b"{}", 3)
    assert await backend.load_session("h2") is None
    await backend.drop_session("h1")
    assert await backend.load_session("h1") is None


async def test_a_conversation_expires_after_its_last_write(backend: StateBackend) -> None:
    await backend.save_session("short", b"{}", 1)  # 1 s: still there when read back at once
    await backend.put_item("short", "a", b'"A"', None, 1)
    assert await backend.load_session("short") is not None
    await asyncio.sleep(1.2)
    assert await backend.load_session("short") is None
    await backend.put_item("short", "b", b'"B"', None, 60)  # an expired one is not revived
    assert await backend.load_session("short") is None


async def test_a_conversation_keeps_the_latest_items_only(backend: StateBackend) -> None:
    from voicewire.server.state.backend import MAX_STORED_ITEMS

    await backend.save_session("long", b"{}", 60)
    for n in range(MAX_STORED_ITEMS + 3):
        await backend.put_item("long", f"i{n}", str(n).encode(), None, 60)
    stored = await backend.load_session("long")
    assert stored is not None
    assert len(stored.items) == MAX_STORED_ITEMS
    assert stored.items[0] == b"3"


async def test_whole_conversations_are_replaced_in_one_call(backend: StateBackend) -> None:
    from voicewire.server.state.backend import MAX_STORED_ITEMS

    many = tuple(str(n).encode() for n in range(MAX_STORED_ITEMS + 2))
    await backend.save_conversations(
        {"a": StoredSession(b'{"v":1}', (b"x", b"y", b"z")), "b": StoredSession(b"{}", many)}, 60
    )
    # A later snapshot replaces the earlier one whole: fewer items, another config.
    await backend.save_conversations({"a": StoredSession(b'{"v":2}', (b"y", b"w"))}, 60)
    assert await backend.load_session("a") == StoredSession(b'{"v":2}', (b"y", b"w"))
    b = await backend.load_session("b")
    assert b is not None and b.items == many[-MAX_STORED_ITEMS:]
    await backend.save_conversations({"short": StoredSession(b"{}", (b"x",))}, 0.05)
    await asyncio.sleep(0.3)
    assert await backend.load_session("short") is None  # expires like any conversation
    await backend.save_conversations({}, 60)  # nothing to write: no call, no error


async def test_a_conversation_kept_the_longest_resume_ttl_is_written(
    backend: StateBackend,
) -> None:
    """``create_app`` takes a ``resume_ttl`` up to :data:`MAX_RESUME_TTL`: every write with it
    must land (Redis refuses an expiry past 64-bit milliseconds; this one is far below)."""
    from voicewire.server.resume import MAX_RESUME_TTL

    ttl = MAX_RESUME_TTL
    await backend.save_conversations({"month": StoredSession(b"{}", (b'"A"',))}, ttl)
    await backend.save_session("month", b'{"v":1}', ttl)
    await backend.put_item("month", "b", b'"B"', None, ttl)
    await backend.delete_item("month", "never", ttl)
    assert await backend.load_session("month") == StoredSession(b'{"v":1}', (b'"A"', b'"B"'))
