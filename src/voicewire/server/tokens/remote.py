"""An auth service's public keys fetched from its JWKS URL, cached, and fetched again on rotation.

The keys are fetched with httpx on first use and kept for ``cache_seconds``; a token naming a
``kid`` the cache lacks triggers one early fetch, at most once per ``min_interval`` seconds, so a
flood of tokens with made-up key ids cannot turn the voice server into a flood of requests to the
auth service. A failed fetch keeps the keys already known (and is logged, without the URL's
query); until a first fetch succeeds, every token is refused as signed by an unknown key.

Only ``https://`` URLs are taken, or ``http://`` to a loopback host (a sidecar, a test).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

import httpx

from voicewire.protocol import ConfigurationError

from .keys import TokenKey, keys_from_jwks

__all__ = ["MAX_JWKS_BYTES", "RemoteJwks"]

log = logging.getLogger("voicewire.server")

MAX_JWKS_BYTES: Final = 256 * 1024
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class RemoteJwks:
    """The signature keys published at a JWKS URL (see the module docstring).

    Args:
        url: the JWKS document's URL.
        cache_seconds: how long fetched keys are used before the next fetch.
        min_interval: fewest seconds between two fetches triggered by unknown key ids.
        timeout: seconds a fetch may take.
        transport: an httpx transport (tests); default: the network.
        clock: monotonic seconds (tests pass a fake one).

    Attributes:
        fetches: fetch attempts so far.
        last_error: why the latest fetch failed, or ``None``.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_interval: float = 30.0,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        if not (
            parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
        ):
            raise ConfigurationError(
                "a JWKS URL must be https:// (or http:// to a loopback host), got "
                f"{parts.scheme or 'no'} scheme"
            )
        if not (cache_seconds > 0 and min_interval >= 0 and timeout > 0):
            raise ConfigurationError("cache_seconds and timeout must be positive")
        self.url = url
        port = f":{parts.port}" if parts.port else ""
        self._shown = f"{parts.scheme}://{parts.hostname}{port}{parts.path}"  # no password, query
        self.cache_seconds = cache_seconds
        self.min_interval = min_interval
        self.timeout = timeout
        self._transport = transport
        self._clock = clock
        self._keys: tuple[TokenKey, ...] = ()
        self._fetched_at: float | None = None  # of the latest attempt, success or not
        self._loaded_at: float | None = None  # of the latest success
        self._lock = asyncio.Lock()
        self.fetches = 0
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"RemoteJwks({self._shown!r}, keys={len(self._keys)})"

    @property
    def keys(self) -> tuple[TokenKey, ...]:
        """The keys of the latest successful fetch (empty before one)."""
        return self._keys

    async def refresh_if_stale(self) -> None:
        """Fetch when no fetch succeeded yet or the keys are older than ``cache_seconds``
        (a failed attempt waits ``min_interval`` before the next)."""
        async with self._lock:
            now = self._clock()
            fresh = self._loaded_at is not None and now - self._loaded_at < self.cache_seconds
            if fresh or self._recently_tried(now):
                return
            await self._fetch()

    async def refresh_for_unknown_kid(self) -> bool:
        """Fetch again unless a fetch happened within ``min_interval``; ``True`` if the keys
        were fetched (the caller then looks again)."""
        async with self._lock:
            if self._recently_tried(self._clock()):
                return False
            return await self._fetch()

    def _recently_tried(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at < self.min_interval

    async def _fetch(self) -> bool:
        self.fetches += 1
        self._fetched_at = self._clock()
        try:
            body = await self._download()
            try:
                document = json.loads(body)
            except ValueError:
                raise ValueError("the JWKS is not JSON") from None
            keys = keys_from_jwks(document)
        except (httpx.HTTPError, ValueError, ConfigurationError) as exc:
            reason = exc.message if isinstance(exc, ConfigurationError) else str(exc)[:200]
            self.last_error = f"{type(exc).__name__}: {reason}"
            log.warning(
                "could not fetch the token keys from %s (keeping %d known): %s",
                self._shown,
                len(self._keys),
                self.last_error,
            )
            return False
        self._keys = tuple(keys)
        self._loaded_at = self._fetched_at
        self.last_error = None
        log.info("fetched %d token keys from %s", len(keys), self._shown)
        return True

    async def _download(self) -> bytes:
        async with (
            httpx.AsyncClient(
                transport=self._transport, timeout=self.timeout, follow_redirects=False
            ) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            return bytes(body)
