"""``voicewire serve``'s shared-state options: ``--redis``, ``--single-use``, ``--trusted-proxy``.

The options carry the Redis URL, never a client: each worker process of ``--workers N`` builds
its own :class:`~voicewire.server.state.RedisState` on its own event loop. Before any worker
starts, :meth:`StateOptions.check` pings Redis once, so an unreachable or misconfigured Redis is
one clear line instead of a server that refuses every single-use token.

The URL may hold a password: it is never printed (the options' ``repr`` hides it), and the
environment variable :data:`REDIS_ENV` keeps it out of ``ps``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..protocol import ConfigurationError

__all__ = ["REDIS_ENV", "StateOptions"]

REDIS_ENV = "VOICEWIRE_REDIS_URL"
"""The environment variable ``--redis`` reads."""


@dataclass(frozen=True, repr=False)
class StateOptions:
    """What ``voicewire serve`` says about shared state.

    Attributes:
        redis_url: the Redis every worker and instance shares, or ``None`` (this process's
            memory: each worker then counts and remembers on its own).
        single_use: a token opens one session.
        trusted_proxies: proxies whose ``X-Forwarded-For`` names the client.
    """

    redis_url: str | None = None
    single_use: bool = False
    trusted_proxies: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return (
            f"StateOptions(redis={'***' if self.redis_url else None}, "
            f"single_use={self.single_use}, trusted_proxies={self.trusted_proxies!r})"
        )

    def check(self) -> str | None:
        """Check the options and ping Redis once (a throwaway client); returns what the Redis
        is, for the start-up line.

        Raises:
            ConfigurationError: a trusted proxy is not an address, the URL is not a Redis
                URL, or Redis does not answer (the message names host and port, never the URL).
        """
        from ..server.client_address import TrustedProxies
        from ..server.state import RedisState, StateUnavailableError

        TrustedProxies(self.trusted_proxies)  # a bad address is an error before any worker starts
        if self.redis_url is None:
            return None

        try:
            state = RedisState.from_url(self.redis_url)
        except ValueError as exc:
            raise ConfigurationError(f"--redis: {exc}") from None

        async def ping() -> None:
            try:
                await state.ping()
            finally:
                await state.aclose()

        try:
            asyncio.run(ping())
        except StateUnavailableError as exc:
            raise ConfigurationError(f"cannot reach Redis: {exc.message}") from None
        return state.description

    def app_options(self) -> dict[str, Any]:
        """The ``create_app`` keyword arguments (a new Redis client, for this process)."""
        from ..server.state import RedisState

        state = None if self.redis_url is None else RedisState.from_url(self.redis_url)
        return {
            "state": state,
            "single_use": self.single_use,
            "trusted_proxies": self.trusted_proxies,
        }
