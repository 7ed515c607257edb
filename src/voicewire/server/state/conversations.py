"""Resumable conversations kept in this process's memory (the part of
:class:`~voicewire.server.state.MemoryState` that holds them).

Bounded twice: at most ``max_sessions`` conversations (beyond it the one closest to expiry is
forgotten) and at most :data:`~voicewire.server.state.backend.MAX_STORED_ITEMS` items each (beyond
it the oldest). Expired conversations leave as new ones are saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .backend import MAX_STORED_ITEMS, StoredSession

__all__ = ["Conversations"]


@dataclass
class _Conversation:
    deadline: float
    config: bytes
    order: list[str] = field(default_factory=list)
    items: dict[str, bytes] = field(default_factory=dict)


class Conversations:
    """``handle_id -> conversation`` with expiry (see the module docstring)."""

    def __init__(self, max_sessions: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_sessions <= 0:
            raise ValueError("max_sessions must be positive")
        self.max_sessions = max_sessions
        self._clock = clock
        self._held: dict[str, _Conversation] = {}

    def __len__(self) -> int:
        return len(self._held)

    def _live(self, handle_id: str) -> _Conversation | None:
        held = self._held.get(handle_id)
        if held is not None and held.deadline <= self._clock():
            del self._held[handle_id]
            return None
        return held

    def save(self, handle_id: str, config: bytes, ttl: float) -> None:
        """Store the config and restart the expiry."""
        now = self._clock()
        held = self._live(handle_id)
        if held is None:
            for key in [k for k, v in self._held.items() if v.deadline <= now]:
                del self._held[key]
            while len(self._held) >= self.max_sessions:
                del self._held[min(self._held, key=lambda k: self._held[k].deadline)]
            self._held[handle_id] = _Conversation(now + ttl, config)
        else:
            held.config, held.deadline = config, now + ttl

    def replace(self, handle_id: str, stored: StoredSession, ttl: float) -> None:
        """Store the whole conversation (config and items, in order) and restart the expiry."""
        self.save(handle_id, stored.config, ttl)
        held = self._held[handle_id]
        held.order, held.items = [], {}
        for data in stored.items[-MAX_STORED_ITEMS:]:
            item_id = f"#{len(held.order)}"
            held.order.append(item_id)
            held.items[item_id] = data

    def put(
        self, handle_id: str, item_id: str, item: bytes, previous: str | None, ttl: float
    ) -> None:
        """Update ``item_id`` in place, or add it after ``previous`` (else at the end)."""
        held = self._live(handle_id)
        if held is None:
            return
        held.deadline = self._clock() + ttl
        if item_id not in held.items:
            at = held.order.index(previous) + 1 if previous in held.items else len(held.order)
            held.order.insert(at, item_id)
            while len(held.order) > MAX_STORED_ITEMS:
                del held.items[held.order.pop(0)]
        held.items[item_id] = item

    def delete(self, handle_id: str, item_id: str, ttl: float) -> None:
        """Remove ``item_id`` (if held)."""
        held = self._live(handle_id)
        if held is None:
            return
        held.deadline = self._clock() + ttl
        if held.items.pop(item_id, None) is not None:
            held.order.remove(item_id)

    def load(self, handle_id: str) -> StoredSession | None:
        """The conversation, or ``None`` once expired or dropped."""
        held = self._live(handle_id)
        if held is None:
            return None
        return StoredSession(held.config, tuple(held.items[i] for i in held.order))

    def drop(self, handle_id: str) -> None:
        """Forget the conversation."""
        self._held.pop(handle_id, None)
