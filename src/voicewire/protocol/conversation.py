"""An ordered conversation store: items by id, in conversation order.

Every holder of a conversation keeps the same thing: the session's history (for replay after a
reconnect), the local model, the scripted model and the fake realtime server (the conversation a
provider holds).
Each needs the same operations, with the same meaning: look an item up by id, insert it after
the item it follows (``previous_item_id``), replace it where it is, delete it, and read the whole
conversation in order. What an id clash or an unknown ``previous_item_id`` *means* (an error
event, an update, an append) is the holder's rule, so this store only answers questions and does
what it is told.

The store is generic in the item type: neutral :class:`~voicewire.protocol.Item` values for the
session, the local model and the scripted model, wire JSON objects for the fake server, which
must stay independent of voicewire's item types.

Lookups by id are O(1); positions (``index_of``, inserting after an item) are O(n) in the length
of the conversation, as a list's are. Conversations are short enough that a linked structure
would cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["OrderedItems"]

T = TypeVar("T")


class OrderedItems(Generic[T]):
    """Items by id, in conversation order; each id is held once."""

    __slots__ = ("_by_id", "_order")

    def __init__(self) -> None:
        self._by_id: dict[str, T] = {}
        self._order: list[str] = []

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def __iter__(self) -> Iterator[T]:
        return (self._by_id[item_id] for item_id in self._order)

    def __repr__(self) -> str:
        return f"OrderedItems({self._order!r})"

    def values(self) -> list[T]:
        """The items, in order (a new list)."""
        return [self._by_id[item_id] for item_id in self._order]

    def ids(self) -> list[str]:
        """The item ids, in order (a new list)."""
        return list(self._order)

    def get(self, item_id: str) -> T | None:
        return self._by_id.get(item_id)

    def index_of(self, item_id: str) -> int | None:
        """The item's position in the conversation, or ``None`` when it is not held."""
        if item_id not in self._by_id:
            return None
        return self._order.index(item_id)

    def last_id(self) -> str | None:
        """The id of the latest item, or ``None`` for an empty conversation."""
        return self._order[-1] if self._order else None

    def last(self) -> T | None:
        """The latest item, or ``None`` for an empty conversation."""
        return self._by_id[self._order[-1]] if self._order else None

    def previous_id(self, item_id: str) -> str | None:
        """The id of the item just before ``item_id`` (``None`` when it is first or not held)."""
        index = self.index_of(item_id)
        return self._order[index - 1] if index else None

    def append(self, item_id: str, item: T) -> str | None:
        """Add a new item at the end; returns the id it follows. The id must not be held."""
        return self.insert(item_id, item, len(self._order))

    def insert_after(self, item_id: str, item: T, previous_item_id: str | None) -> str | None:
        """Add a new item just after ``previous_item_id``, or at the end when that is ``None``
        or not held; returns the id it follows. The id must not be held."""
        index = None if previous_item_id is None else self.index_of(previous_item_id)
        return self.insert(item_id, item, len(self._order) if index is None else index + 1)

    def insert(self, item_id: str, item: T, index: int) -> str | None:
        """Add a new item at position ``index``; returns the id it follows. The id must not be
        held (replace a held item with :meth:`replace`)."""
        if item_id in self._by_id:
            raise KeyError(f"item {item_id!r} is already held")
        self._by_id[item_id] = item
        self._order.insert(index, item_id)
        return self._order[index - 1] if index > 0 else None

    def replace(self, item_id: str, item: T) -> None:
        """Put ``item`` in the place of the held item ``item_id``."""
        if item_id not in self._by_id:
            raise KeyError(f"item {item_id!r} is not held")
        self._by_id[item_id] = item

    def delete(self, item_id: str) -> T | None:
        """Remove the item; returns it, or ``None`` when it was not held."""
        item = self._by_id.pop(item_id, None)
        if item is not None:
            self._order.remove(item_id)
        return item
