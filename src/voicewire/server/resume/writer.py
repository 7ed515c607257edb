"""One writer per process for every resumable conversation: batched, coalescing, retrying.

Why this shape: writing each item change as it happens, from each session's own task, made a
burst (a hundred sessions opening their reply items in the same 20 ms) take a hundred pooled
connections at once; the pool ran dry, the writes failed and were not retried, and the items were
missing on resume. Here a session only *marks* itself pending (a dict assignment: the audio path
never waits on the backend, and never allocates more than one entry per session), and one task
writes what is pending:

* **coalescing**: pending is ``handle_id -> how to take a snapshot``; a session changed a thousand
  times before the writer comes round is one entry, and its snapshot is taken when written, so
  it is the latest. Memory is bounded by sessions, not by changes.
* **batched**: up to :data:`BATCH` conversations go in one
  :meth:`~voicewire.server.state.StateBackend.save_conversations` call (one pipeline, one
  pooled connection for Redis), each replaced whole, so a write that lands is complete whatever
  came before it.
* **retried**: a failed batch goes back to pending (unless its session changed again meanwhile:
  then the newer snapshot goes) and the writer waits, doubling from :data:`FIRST_BACKOFF` to
  :data:`MAX_BACKOFF` seconds. One warning per outage (the backend's description and the cause,
  never a URL or a handle), one info line when writes land again. A conversation still not
  written ``ttl`` seconds after its last change is given up (it would have expired anyway), so
  a long outage cannot pin the snapshots of sessions long gone.
* **flushed**: a closing session waits (bounded) until its conversation is written
  (:meth:`ConversationWriter.flush`). A drain closes each session through its relay, which runs
  that flush before it sends the 1012 close, so a client told to reconnect finds everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from itertools import islice

from ..state import StateBackend, StateUnavailableError, StoredSession

__all__ = ["BATCH", "FIRST_BACKOFF", "MAX_BACKOFF", "ConversationWriter", "Snapshot"]

log = logging.getLogger("voicewire.server")

Snapshot = Callable[[], StoredSession]
"""Takes a conversation's snapshot as it stands now."""
BATCH = 64
"""Conversations written per backend call."""
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 5.0


class ConversationWriter:
    """Writes pending conversations to ``state`` (see the module docstring).

    Args:
        state: the backend.
        ttl: seconds a conversation is kept after its last change.
        clock: monotonic seconds (tests).
    """

    def __init__(
        self, state: StateBackend, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.state = state
        self.ttl = ttl
        self._clock = clock
        self._pending: dict[str, tuple[Snapshot, float]] = {}  # handle_id -> (snapshot, deadline)
        self._in_flight: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        self._failing = False
        self.batches = 0  # backend calls that landed
        self.given_up = 0  # conversations dropped after ttl seconds unwritten

    def __repr__(self) -> str:
        return f"ConversationWriter(pending={len(self._pending)}, batches={self.batches})"

    @property
    def pending(self) -> int:
        """Conversations waiting to be written (one entry per session at most)."""
        return len(self._pending)

    def mark(self, handle_id: str, snapshot: Snapshot) -> None:
        """``handle_id``'s conversation changed: write ``snapshot()`` soon. Never waits."""
        self._pending.pop(handle_id, None)  # to the end: the oldest change goes first
        self._pending[handle_id] = (snapshot, self._clock() + self.ttl)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _busy(self, handle_id: str | None) -> bool:
        if handle_id is None:
            return bool(self._pending or self._in_flight)
        return handle_id in self._pending or handle_id in self._in_flight

    async def flush(self, handle_id: str | None = None, within: float = 5.0) -> bool:
        """Wait until ``handle_id``'s conversation (every one when ``None``) is written, at most
        ``within`` seconds; ``True`` if it was."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within), self._progress:
                await self._progress.wait_for(lambda: not self._busy(handle_id))
        return not self._busy(handle_id)

    async def _run(self) -> None:
        delay = 0.0
        while self._pending:
            if delay:
                await asyncio.sleep(delay)
            taken = {h: self._pending.pop(h) for h in list(islice(self._pending, BATCH))}
            self._in_flight = set(taken)
            batch: dict[str, StoredSession] = {}
            for handle_id, (snapshot, _) in taken.items():
                try:
                    batch[handle_id] = snapshot()
                except Exception:
                    log.exception("a conversation could not be read for saving; left out")
            try:
                await self.state.save_conversations(batch, self.ttl)
            except Exception as exc:
                self._put_back(taken)
                delay = min(max(delay * 2, FIRST_BACKOFF), MAX_BACKOFF)
                if not self._failing:
                    self._failing = True
                    cause = exc.message if isinstance(exc, StateUnavailableError) else repr(exc)
                    log.warning(
                        "conversations could not be saved for resuming (%d pending); retrying "
                        "until they are: %s",
                        len(self._pending),
                        cause,
                    )
            else:
                delay = 0.0
                self.batches += 1
                if self._failing:
                    self._failing = False
                    log.info("conversations are being saved for resuming again")
            finally:
                self._in_flight = set()
                async with self._progress:
                    self._progress.notify_all()

    def _put_back(self, taken: dict[str, tuple[Snapshot, float]]) -> None:
        """Pending again: what failed, unless changed since (the newer snapshot goes) or
        unwritten for ``ttl`` seconds (given up)."""
        now = self._clock()
        for handle_id, (snapshot, deadline) in taken.items():
            if handle_id in self._pending:
                continue
            if deadline <= now:
                self.given_up += 1
                log.warning("a conversation went unsaved for its whole resume_ttl; given up")
                continue
            self._pending[handle_id] = (snapshot, deadline)
