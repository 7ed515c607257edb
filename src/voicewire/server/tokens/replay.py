"""Single use: remembering which token ids were spent, until they could no longer verify.

The authority asks a :class:`ReplayGuard` to claim a token's ``jti`` once; a second claim of the
same id fails. In one process :class:`MemoryReplayGuard` does it. Several processes or machines
share one guard backed by the state backend (an atomic set-if-absent that expires with the
token), so that a token opens one session in the whole deployment.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["MemoryReplayGuard", "ReplayGuard"]


@runtime_checkable
class ReplayGuard(Protocol):
    """Where spent single-use token ids are remembered."""

    async def claim_once(self, jti: str, expires_at: float) -> bool:
        """``True`` the first time ``jti`` is claimed (it is then remembered until the unix
        time ``expires_at``), ``False`` if it was claimed before. Must be atomic across every
        process sharing the guard."""
        ...


class MemoryReplayGuard:
    """A :class:`ReplayGuard` in this process's memory: protects one process.

    An id is forgotten once its ``expires_at`` has passed (pruned on the next claim), so memory
    holds at most the ids spent within one token lifetime.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._used: set[str] = set()
        self._expiries: list[tuple[float, str]] = []  # heap of (expires_at, jti)

    def __len__(self) -> int:
        """How many spent ids are remembered."""
        return len(self._used)

    def __repr__(self) -> str:
        return f"MemoryReplayGuard(remembered={len(self._used)})"

    def claim_now(self, jti: str, expires_at: float) -> bool:
        """:meth:`claim_once` without awaiting (what a synchronous verify uses)."""
        self._prune(self._clock())
        if jti in self._used:
            return False
        self._used.add(jti)
        heapq.heappush(self._expiries, (expires_at, jti))
        return True

    async def claim_once(self, jti: str, expires_at: float) -> bool:
        """See :meth:`ReplayGuard.claim_once`."""
        return self.claim_now(jti, expires_at)

    def _prune(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, jti = heapq.heappop(expiries)
            self._used.discard(jti)
