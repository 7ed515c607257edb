"""The process's conversation writer against a real Redis: a burst of many sessions' changes
through a tiny pool loses nothing, a Redis that stops answering for a while gets the pending
conversations once it is back, and one session changing without end holds one pending snapshot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from voicewire.server.resume.writer import ConversationWriter
from voicewire.server.state import RedisState, StoredSession
from voicewire.testing.redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)

TTL = 60.0


class Conversation:
    """A session's conversation as the writer sees it: a snapshot of items that grows."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[bytes] = []

    def say(self, text: str) -> None:
        self.items.append(f'{{"id":"{self.name}-{len(self.items)}","text":"{text}"}}'.encode())

    def snapshot(self) -> StoredSession:
        return StoredSession(b'{"voice":"alloy"}', tuple(self.items))


async def stored_items(state: RedisState, handle_id: str) -> tuple[bytes, ...] | None:
    stored = await state.load_session(handle_id)
    return None if stored is None else stored.items


async def test_a_burst_of_many_sessions_through_two_connections_loses_nothing(
    redis_server: RedisServer, prefix: str
) -> None:
    state = RedisState.from_url(redis_server.url, prefix=prefix, max_connections=2)
    writer = ConversationWriter(state, TTL)
    conversations = [Conversation(f"s{n}") for n in range(300)]
    # Every session opens a reply item at the same moment, then fills it in, twice.
    for turn in range(2):
        for conversation in conversations:
            conversation.say(f"turn {turn}")
            writer.mark(conversation.name, conversation.snapshot)
        # Others use the same tiny pool meanwhile (a token claim, a rate limit).
        await asyncio.gather(*(state.hit(f"k{n}", limit=5, window=10) for n in range(20)))
    assert await writer.flush(within=30)
    for conversation in conversations:
        assert await stored_items(state, conversation.name) == tuple(conversation.items)
    assert writer.batches < 2 * len(conversations)  # batched, not one call per change
    await state.aclose()


async def test_pending_conversations_land_once_a_stopped_redis_answers_again(
    own_redis: Callable[..., RedisServer], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis()
    state = RedisState.from_url(server.url, prefix=prefix, timeout=0.2, max_connections=2)
    writer = ConversationWriter(state, TTL)
    before = Conversation("before")
    before.say("hello")
    writer.mark(before.name, before.snapshot)
    assert await writer.flush(within=10)

    server.pause()
    try:
        conversations = [Conversation(f"s{n}") for n in range(50)]
        for conversation in conversations:
            conversation.say("said while redis was away")
            writer.mark(conversation.name, conversation.snapshot)
        before.say("and this")
        writer.mark(before.name, before.snapshot)
        # Nothing lands while redis is frozen; the writer's attempts time out (0.2 s) and it
        # keeps what it could not write.
        assert not await writer.flush(within=2)
    finally:
        server.resume()

    assert await writer.flush(within=30)
    for conversation in [before, *conversations]:
        assert await stored_items(state, conversation.name) == tuple(conversation.items)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("could not be saved" in w for w in warnings)
    assert all("redis at 127.0.0.1" in w for w in warnings)
    assert all(prefix not in w and "s1" not in w.split() for w in warnings)
    await state.aclose()


async def test_a_flood_of_changes_to_one_session_holds_one_pending_snapshot(
    own_redis: Callable[..., RedisServer], prefix: str
) -> None:
    server = own_redis()
    state = RedisState.from_url(server.url, prefix=prefix, timeout=0.2)
    writer = ConversationWriter(state, TTL)
    conversation = Conversation("chatty")
    server.pause()  # nothing can be written: every change would pile up if kept
    try:
        for n in range(20_000):
            if n % 1000 == 0:
                conversation.say(str(n))
            writer.mark(conversation.name, conversation.snapshot)
            assert writer.pending == 1
            if n % 500 == 0:
                await asyncio.sleep(0)  # the writer runs, and fails, meanwhile
        assert writer.pending == 1
    finally:
        server.resume()
    assert await writer.flush(within=30)
    assert await stored_items(state, conversation.name) == tuple(conversation.items)
    await state.aclose()
