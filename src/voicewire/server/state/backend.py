"""The state backend's interface: what several server processes or machines must agree on.

One voicewire process keeps everything in its own memory. Several workers, or several instances
behind a load balancer, must share a few facts, and each fact goes through one
:class:`StateBackend` (in memory for one process, Redis beyond it):

* **single-use tokens**: :meth:`StateBackend.claim_once` is an atomic set-if-absent that expires
  with the token, so a token opens one session across every worker and instance;
* **rate limits**: :meth:`StateBackend.hit` counts an event against a key in a fixed window, so a
  limit holds across all instances.

The server touches the backend once or twice per credential request and per session open, never
per audio frame: a backend round trip is never on the audio path.

Failure: a backend that cannot be reached raises :class:`StateUnavailableError` (its message
names the backend, never a password). The server answers it per rule (see
:mod:`voicewire.server.app`): a single-use claim fails closed (the session is refused with 503,
since a replay must never pass), a rate limit fails open (the request is served and a warning
logged, since a limit protects capacity, not correctness).

Resumable sessions: a session's conversation is written through to the same backend, under the
id of its resume handle, as it changes, so a client reconnecting to any instance gets it back:

* :meth:`StateBackend.save_session` stores the session config (JSON) and (re)starts the
  conversation's expiry;
* :meth:`StateBackend.put_item` writes one conversation item (a new one after
  ``previous_item_id``, or an update of an existing one by id), once per item and never per audio
  frame; :meth:`StateBackend.delete_item` removes one;
* :meth:`StateBackend.save_conversations` replaces whole conversations (config and items) in one
  round trip: what the server's write-through uses (:mod:`voicewire.server.resume.writer`), so a
  burst of changes across many sessions is one batched write, never one call per item;
* :meth:`StateBackend.load_session` returns the config and the items in conversation order, or
  ``None`` once expired or dropped; :meth:`StateBackend.drop_session` ends it.

Every write restarts the conversation's expiry (``ttl`` seconds after the last activity). A
conversation holds at most :data:`MAX_STORED_ITEMS` items; beyond that the oldest are forgotten.
The handle itself (signed, bound to the token's subject) belongs to the server
(:mod:`voicewire.server.resume`), not to the backend: the backend stores opaque bytes under an id
it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from voicewire.protocol import RealtimeError

__all__ = [
    "CLOCK_SKEW",
    "MAX_STORED_ITEMS",
    "RateDecision",
    "StateBackend",
    "StateUnavailableError",
    "StoredSession",
    "check_rate",
]

CLOCK_SKEW = 60.0
"""Seconds a claimed token id is kept beyond its expiry: clocks of the instances that verify tokens
may differ by up to this much, and a token one of them still takes must still be remembered."""

MAX_STORED_ITEMS = 1000
"""Conversation items kept per resumable session; beyond it the oldest are forgotten."""


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A resumable session as the backend holds it: the config (JSON bytes) and the items
    (JSON bytes each) in conversation order."""

    config: bytes
    items: tuple[bytes, ...]


class StateUnavailableError(RealtimeError):
    """The state backend could not be reached or did not answer in time.

    The message names the backend and the cause (``redis at 10.0.0.5:6379: Connection
    refused``), never a password or a full URL.
    """

    code = "state_unavailable"


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one :meth:`StateBackend.hit`.

    Attributes:
        allowed: the event is within the limit (it was counted either way).
        count: events counted in the current window, this one included.
        retry_after: seconds until the current window ends and the count starts again from
            zero (``> 0``).
    """

    allowed: bool
    count: int
    retry_after: float


@runtime_checkable
class StateBackend(Protocol):
    """What a state backend offers the server (see the module docstring).

    Implementations: :class:`~voicewire.server.state.MemoryState` (one process, the default) and
    :class:`~voicewire.server.state.RedisState` (shared by every process that uses the same
    Redis and key prefix). Both pass the same contract tests.
    """

    @property
    def description(self) -> str:
        """What the backend is, for logs (``"memory"``, ``"redis at host:port/db"``), never with
        a password."""
        ...

    async def claim_once(self, jti: str, expires_at: float) -> bool:
        """Claim ``jti`` (a token id) atomically: ``True`` the first time, ``False`` every later
        time until the claim is forgotten, at least :data:`CLOCK_SKEW` seconds after
        ``expires_at`` (unix seconds).

        Concurrent claims of one id, from any process sharing the backend, give ``True`` to
        exactly one. Raises :class:`StateUnavailableError` when the backend cannot say: the
        caller must then refuse, never assume the claim succeeded.
        """
        ...

    async def hit(self, key: str, *, limit: int, window: float) -> RateDecision:
        """Count one event against ``key`` and say whether it is within ``limit`` events per
        ``window`` seconds.

        A fixed window starts with the first event counted for a key and lasts ``window``
        seconds; every event in it counts, refused ones too, and the next window starts from
        zero. (A burst can therefore reach twice ``limit`` across a window boundary.) Raises
        :class:`StateUnavailableError` when the backend cannot be reached.
        """
        ...

    async def save_session(self, handle_id: str, config: bytes, ttl: float) -> None:
        """Store the session config of ``handle_id`` and (re)start its expiry: the conversation
        is forgotten ``ttl`` seconds after its last write."""
        ...

    async def put_item(
        self, handle_id: str, item_id: str, item: bytes, previous_item_id: str | None, ttl: float
    ) -> None:
        """Write one item: an update in place when ``item_id`` is held, else a new item after
        ``previous_item_id`` (at the end when that is ``None`` or not held). No-op for a
        session not saved (or expired)."""
        ...

    async def delete_item(self, handle_id: str, item_id: str, ttl: float) -> None:
        """Remove one item (no-op when not held)."""
        ...

    async def save_conversations(
        self, conversations: Mapping[str, StoredSession], ttl: float
    ) -> None:
        """Replace each conversation of ``conversations`` (``handle_id -> StoredSession``) whole,
        its config and its items in order (the last :data:`MAX_STORED_ITEMS`), and (re)start its
        expiry; in one round trip where the backend can. Each conversation is written whole or
        not at all; on :class:`StateUnavailableError` the caller cannot tell which were."""
        ...

    async def load_session(self, handle_id: str) -> StoredSession | None:
        """The stored session, or ``None`` once expired or dropped (or never saved)."""
        ...

    async def drop_session(self, handle_id: str) -> None:
        """Forget the session."""
        ...

    async def ping(self) -> None:
        """Return when the backend answers; raise :class:`StateUnavailableError` otherwise (for
        readiness checks)."""
        ...

    async def aclose(self) -> None:
        """Release the backend's connections (it may not be used afterwards). Whoever made the
        backend closes it; ``create_app`` never does."""
        ...


def check_rate(limit: int, window: float) -> None:
    """Raise ``ValueError`` for a limit no window could honour (every backend checks its
    arguments the same way)."""
    if type(limit) is not int or limit < 1:
        raise ValueError(f"a rate limit must allow at least 1 event, got {limit!r}")
    if not window > 0:
        raise ValueError(f"a rate window must be positive seconds, got {window!r}")
