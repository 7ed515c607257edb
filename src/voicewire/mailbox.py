"""A FIFO of items read by ``async for``: what event streams are built on.

:class:`asyncio.Queue` does more than a stream of events needs (task accounting, a bound, putters
to wake), and its ``get`` / ``put_nowait`` were a tenth of a loaded server's CPU: every audio
frame of every session passes through two of these. A mailbox is a deque and the futures of the
readers waiting on it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

__all__ = ["Mailbox"]

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Items in the order they were put; readers iterate until the mailbox is closed and empty.

    With ``maxlen``, the oldest items are dropped when it is full (see :attr:`full`). Several
    readers share one stream (each item goes to one of them); a reader that starts after
    :meth:`close` still gets what is left, then ends.
    """

    __slots__ = ("_closed", "_items", "_waiters")

    def __init__(self, maxlen: int | None = None) -> None:
        self._items: deque[T] = deque(maxlen=maxlen)
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        """Whether the next :meth:`put` drops the oldest item."""
        return len(self._items) == self._items.maxlen

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> None:
        self._items.append(item)
        if self._waiters:
            self._wake()

    def take(self) -> T:
        """The oldest item, without waiting (:class:`IndexError` when empty)."""
        return self._items.popleft()

    def close(self) -> None:
        """No more items: readers end once they have read what is left."""
        self._closed = True
        self._wake()

    async def __aiter__(self) -> AsyncIterator[T]:
        items = self._items
        while True:
            if items:
                yield items.popleft()
            elif self._closed:
                return
            else:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                except BaseException:  # cancelled while waiting
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
                    raise

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
