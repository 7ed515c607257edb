"""Rate limits on credential requests and session opens, counted in the state backend.

The server asks :class:`Throttle` before it does any work for a request:

* ``POST /realtime/credential``: per client address (:attr:`RateLimits.credentials_per_address`);
* ``WS /v1/realtime``: per client address before the token is even read
  (:attr:`RateLimits.sessions_per_address`; failed attempts count too), then per token subject
  once the token is verified (:attr:`RateLimits.sessions_per_subject`). Verifying spends a
  single-use token, so a client refused for its subject's rate needs a new one for the retry.

A refusal carries ``Retry-After`` (whole seconds until the window ends). The counters live in the
state backend, so with Redis a limit holds across every worker and instance. A backend that cannot
be reached lets the request through (a limit protects capacity, not correctness) and logs one
warning until it answers again.

Refusals are logged here, bounded: the first one of a window for a client as a warning (the limit
and whom it counted), the rest of that window at debug level, so a script hammering the server
writes one warning a window, not one a request.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from voicewire.protocol import ConfigurationError

from .backend import StateBackend, StateUnavailableError

__all__ = ["RateLimit", "RateLimited", "RateLimits", "Throttle"]

log = logging.getLogger("voicewire.server")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` events per ``seconds`` (a fixed window from the first event)."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if type(self.requests) is not int or self.requests < 1:
            raise ConfigurationError(
                f"a rate limit must allow at least 1 request, got {self.requests!r}"
            )
        if not (isinstance(self.seconds, int | float) and 0 < self.seconds < math.inf):
            raise ConfigurationError(
                f"a rate limit's window must be positive seconds, got {self.seconds!r}"
            )


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits the server applies; ``None`` turns one off.

    The defaults let a person (or a household behind one address) start calls as fast as anyone
    would, and stop a script: the issue that asked for them saw 500 credentials minted in
    2.5 seconds by one client.

    Attributes:
        credentials_per_address: ``POST /realtime/credential`` per client address.
        sessions_per_address: ``WS /v1/realtime`` opens per client address (every attempt,
            refused ones too).
        sessions_per_subject: session opens per token subject (the ``sub`` claim), whatever
            the address.
    """

    credentials_per_address: RateLimit | None = RateLimit(60, 60)
    sessions_per_address: RateLimit | None = RateLimit(60, 60)
    sessions_per_subject: RateLimit | None = RateLimit(30, 60)

    @classmethod
    def disabled(cls) -> RateLimits:
        """No limit at all (load tests; or limits enforced in front of the server)."""
        return cls(None, None, None)


@dataclass(frozen=True, slots=True)
class RateLimited:
    """A refusal: answer 429 with ``Retry-After: <retry_after>``."""

    rule: str
    retry_after: int

    @property
    def message(self) -> str:
        """What the client is told (the limit's name, not the identity it counted)."""
        return f"too many requests ({self.rule}); retry after {self.retry_after} s"


class Throttle:
    """Applies :class:`RateLimits` through a :class:`StateBackend` (see the module docstring)."""

    def __init__(self, state: StateBackend, limits: RateLimits) -> None:
        self.state = state
        self.limits = limits
        self._backend_down = False

    async def credential(self, address: str) -> RateLimited | None:
        """Count a credential request from ``address``; a refusal or ``None``."""
        return await self._check(
            "credentials per address", f"cred:addr:{address}", self.limits.credentials_per_address
        )

    async def session_address(self, address: str) -> RateLimited | None:
        """Count a session open from ``address``; a refusal or ``None``."""
        return await self._check(
            "sessions per address", f"open:addr:{address}", self.limits.sessions_per_address
        )

    async def session_subject(self, subject: str) -> RateLimited | None:
        """Count a session open by the token subject ``subject``; a refusal or ``None``."""
        return await self._check(
            "sessions per subject", f"open:sub:{subject}", self.limits.sessions_per_subject
        )

    async def _check(self, rule: str, key: str, limit: RateLimit | None) -> RateLimited | None:
        if limit is None:
            return None
        try:
            decision = await self.state.hit(key, limit=limit.requests, window=limit.seconds)
        except StateUnavailableError as exc:
            if not self._backend_down:
                log.warning("rate limits are not enforced while the state backend fails: %s", exc)
                self._backend_down = True
            return None
        if self._backend_down:
            log.warning("rate limits are enforced again: %s answers", self.state.description)
            self._backend_down = False
        if decision.allowed:
            return None
        refused = RateLimited(rule, max(1, math.ceil(decision.retry_after)))
        first = decision.count == limit.requests + 1
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "refused %s: %s",
            key,
            refused.message,
        )
        return refused
