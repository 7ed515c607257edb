"""Shared state for servers past one process: single-use tokens and rate limits.

``create_app(state=...)`` takes a :class:`StateBackend`:

* :class:`MemoryState` (the default) keeps everything in this process, as one process needs;
* :class:`RedisState` (``RedisState.from_url("redis://...")``, or ``voicewire serve --redis``)
  shares it with every worker and instance on the same Redis and key prefix: a single-use token
  opens one session in total, and a rate limit counts every instance's requests.

:class:`Throttle` applies :class:`RateLimits` through the backend. See
:mod:`voicewire.server.state.backend` for the interface, what happens when a backend is down, and
how resumable sessions are stored.
"""

from .backend import (
    CLOCK_SKEW,
    RateDecision,
    StateBackend,
    StateUnavailableError,
    StoredSession,
)
from .memory import MemoryState
from .rate_limits import RateLimit, RateLimited, RateLimits, Throttle
from .redis_state import RedisState

__all__ = [
    "CLOCK_SKEW",
    "MemoryState",
    "RateDecision",
    "RateLimit",
    "RateLimited",
    "RateLimits",
    "RedisState",
    "StateBackend",
    "StateUnavailableError",
    "StoredSession",
    "Throttle",
]
