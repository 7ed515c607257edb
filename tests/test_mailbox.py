"""Mailbox: the FIFO under every event stream (connection -> session -> async for)."""

from __future__ import annotations

import asyncio

import pytest

from voicewire.mailbox import Mailbox


async def collect(box: Mailbox[int]) -> list[int]:
    return [item async for item in box]


async def test_items_come_out_in_order_and_iteration_ends_after_close() -> None:
    box: Mailbox[int] = Mailbox()
    reader = asyncio.create_task(collect(box))
    await asyncio.sleep(0)  # the reader now waits on an empty mailbox
    for n in range(5):
        box.put(n)
    await asyncio.sleep(0)
    box.put(5)
    box.close()
    assert await reader == [0, 1, 2, 3, 4, 5]


async def test_a_reader_after_close_gets_what_is_left_then_ends() -> None:
    box: Mailbox[int] = Mailbox()
    box.put(1)
    box.put(2)
    box.close()
    assert box.closed
    assert await collect(box) == [1, 2]
    assert await collect(box) == []  # a second loop ends at once


async def test_maxlen_drops_the_oldest_and_full_says_so_beforehand() -> None:
    box: Mailbox[int] = Mailbox(maxlen=3)
    for n in range(3):
        assert not box.full
        box.put(n)
    assert box.full and len(box) == 3
    box.put(3)
    box.close()
    assert await collect(box) == [1, 2, 3]


async def test_take_pops_without_waiting() -> None:
    box: Mailbox[str] = Mailbox()
    box.put("a")
    assert box.take() == "a"
    with pytest.raises(IndexError):
        box.take()


async def test_two_readers_share_the_items_and_both_end() -> None:
    box: Mailbox[int] = Mailbox()
    first = asyncio.create_task(collect(box))
    second = asyncio.create_task(collect(box))
    await asyncio.sleep(0)
    for n in range(10):
        box.put(n)
        await asyncio.sleep(0)
    box.close()
    got = await first + await second
    assert sorted(got) == list(range(10))


async def test_a_cancelled_reader_leaves_no_waiter_and_loses_no_item() -> None:
    box: Mailbox[int] = Mailbox()
    reader = asyncio.create_task(collect(box))
    await asyncio.sleep(0)
    assert len(box._waiters) == 1
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert box._waiters == []
    box.put(7)
    box.close()
    assert await collect(box) == [7]
