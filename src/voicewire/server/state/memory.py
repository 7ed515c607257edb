"""``MemoryState``: the state backend of one process (the default).

Everything lives in this process's memory, so it protects one process only: with several workers
or instances a single-use token opens a session on each of them and every instance counts its
own rate limits. Use :class:`~voicewire.server.state.RedisState` beyond one process.

Both maps are bounded. Entries leave when they expire (pruned as new ones arrive), and a map that
is still full then behaves as its rule's failure policy says: rate counters forget the counters
closest to their end (a limit is then briefly lenient, never stricter), while a full claim map
refuses new claims with :class:`~voicewire.server.state.StateUnavailableError` (a forgotten claim
would let a replay through). Each operation runs without awaiting, so it is atomic within the
event loop.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping

from .backend import CLOCK_SKEW, RateDecision, StateUnavailableError, StoredSession, check_rate
from .conversations import Conversations

__all__ = ["MemoryState"]

DEFAULT_MAX_CLAIMS = 1_000_000
DEFAULT_MAX_COUNTERS = 100_000
DEFAULT_MAX_CONVERSATIONS = 10_000


class _ExpiringMap:
    """``key -> (deadline, value)`` with a heap of deadlines for pruning.

    The heap may hold stale entries (a key whose deadline moved); they are skipped when popped.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: dict[str, tuple[float, int]] = {}
        self._heap: list[tuple[float, str]] = []

    def live(self, key: str, now: float) -> tuple[float, int] | None:
        entry = self.entries.get(key)
        return entry if entry is not None and entry[0] > now else None

    def put(self, key: str, deadline: float, value: int) -> None:
        previous = self.entries.get(key)
        self.entries[key] = (deadline, value)
        if previous is None or previous[0] != deadline:
            heapq.heappush(self._heap, (deadline, key))

    def prune(self, now: float) -> None:
        """Drop expired entries (and stale heap entries above them)."""
        while self._heap and self._heap[0][0] <= now:
            self._pop()

    def evict_soonest(self) -> None:
        """Drop the entry closest to its deadline (the map is over its bound)."""
        while self._heap and not self._pop():
            pass

    def _pop(self) -> bool:
        deadline, key = heapq.heappop(self._heap)
        entry = self.entries.get(key)
        if entry is not None and entry[0] == deadline:
            del self.entries[key]
            return True
        return False


class MemoryState:
    """The in-process :class:`~voicewire.server.state.StateBackend` (see the module docstring).

    Args:
        max_claims: single-use token ids remembered at most (until they expire); beyond it new
            claims are refused.
        max_counters: rate-limit counters kept at most; beyond it the oldest windows are
            forgotten.
        max_conversations: resumable conversations kept at most; beyond it the one closest to
            its expiry is forgotten.
        clock: monotonic seconds, for windows and deadlines (tests pass a fake one).
        wall_clock: unix seconds, to turn a token's ``expires_at`` into a deadline.
    """

    def __init__(
        self,
        *,
        max_claims: int = DEFAULT_MAX_CLAIMS,
        max_counters: int = DEFAULT_MAX_COUNTERS,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_claims <= 0 or max_counters <= 0:
            raise ValueError("max_claims and max_counters must be positive")
        self._claims = _ExpiringMap(max_claims)
        self._counters = _ExpiringMap(max_counters)
        self._clock = clock
        self._wall_clock = wall_clock
        self._conversations = Conversations(max_conversations, clock)

    def __repr__(self) -> str:
        return (
            f"MemoryState(claims={len(self._claims.entries)}, "
            f"counters={len(self._counters.entries)})"
        )

    @property
    def description(self) -> str:
        """``"memory"``."""
        return "memory"

    @property
    def claims(self) -> int:
        """Token ids remembered right now (expired ones may linger until the next claim)."""
        return len(self._claims.entries)

    @property
    def counters(self) -> int:
        """Rate-limit counters held right now (expired ones may linger until the next hit)."""
        return len(self._counters.entries)

    async def claim_once(self, jti: str, expires_at: float) -> bool:
        """See :meth:`~voicewire.server.state.StateBackend.claim_once`."""
        now = self._clock()
        claims = self._claims
        claims.prune(now)
        if claims.live(jti, now) is not None:
            return False
        if len(claims.entries) >= claims.max_entries:
            raise StateUnavailableError(
                f"memory state: {claims.max_entries} single-use tokens are remembered already; "
                "refusing new ones until some expire"
            )
        hold = max(expires_at - self._wall_clock(), 0.0) + CLOCK_SKEW
        claims.put(jti, now + hold, 1)
        return True

    async def hit(self, key: str, *, limit: int, window: float) -> RateDecision:
        """See :meth:`~voicewire.server.state.StateBackend.hit`."""
        check_rate(limit, window)
        now = self._clock()
        counters = self._counters
        counters.prune(now)
        entry = counters.live(key, now)
        if entry is None:
            deadline, count = now + window, 1
            while len(counters.entries) >= counters.max_entries:
                counters.evict_soonest()
        else:
            deadline, count = entry[0], entry[1] + 1
        counters.put(key, deadline, count)
        return RateDecision(allowed=count <= limit, count=count, retry_after=deadline - now)

    async def save_session(self, handle_id: str, config: bytes, ttl: float) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.save_session`."""
        self._conversations.save(handle_id, config, ttl)

    async def put_item(
        self, handle_id: str, item_id: str, item: bytes, previous_item_id: str | None, ttl: float
    ) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.put_item`."""
        self._conversations.put(handle_id, item_id, item, previous_item_id, ttl)

    async def delete_item(self, handle_id: str, item_id: str, ttl: float) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.delete_item`."""
        self._conversations.delete(handle_id, item_id, ttl)

    async def save_conversations(
        self, conversations: Mapping[str, StoredSession], ttl: float
    ) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.save_conversations`."""
        for handle_id, stored in conversations.items():
            self._conversations.replace(handle_id, stored, ttl)

    async def load_session(self, handle_id: str) -> StoredSession | None:
        """See :meth:`~voicewire.server.state.StateBackend.load_session`."""
        return self._conversations.load(handle_id)

    async def drop_session(self, handle_id: str) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.drop_session`."""
        self._conversations.drop(handle_id)

    async def ping(self) -> None:
        """Always answers: memory is always there."""

    async def aclose(self) -> None:
        """Forget everything."""
        self._claims = _ExpiringMap(self._claims.max_entries)
        self._counters = _ExpiringMap(self._counters.max_entries)
        self._conversations = Conversations(self._conversations.max_sessions, self._clock)
