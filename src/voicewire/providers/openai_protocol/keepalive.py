"""Noticing a dead link within seconds: WebSocket ping settings made for voice.

A link can die without closing: a NAT drops its mapping, a laptop changes networks, a proxy
blackholes the flow. Sends still succeed (into the kernel's buffer) and nothing comes back, so
only a ping that goes unanswered tells. ``websockets``' generic defaults (a ping every 20 s, 20 s
to answer, 10 s to close) take 30-50 s to notice, while a user talks to nobody. Voice needs a
few seconds: :data:`VOICE_KEEPALIVE` notices within ``ping_interval + ping_timeout +
close_timeout`` (at most 10 s).

The default socket factory passes these settings to ``websockets``. A socket from a factory of
your own (``ConnectOptions.websocket``) keeps its own settings; if it has a ``ping()`` method, the
connection also runs :func:`watch` over it with the same values.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["VOICE_KEEPALIVE", "WEBSOCKETS_DEFAULTS", "Keepalive", "watch"]


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Ping every ``ping_interval`` seconds; a pong later than ``ping_timeout`` means the link is
    dead; closing a dead link waits at most ``close_timeout`` for the close handshake.
    ``ping_interval=None`` sends no pings (a dead link is then noticed only by the OS, minutes
    later); ``ping_timeout=None`` never gives up waiting for a pong."""

    ping_interval: float | None = 4.0
    ping_timeout: float | None = 4.0
    close_timeout: float = 2.0

    def __post_init__(self) -> None:
        for name in ("ping_interval", "ping_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"Keepalive.{name} must be positive or None, got {value}")
        if self.close_timeout <= 0:
            raise ValueError(f"Keepalive.close_timeout must be positive, got {self.close_timeout}")

    @property
    def detects_within(self) -> float | None:
        """The longest a dead link can go unnoticed, in seconds (``None``: never noticed)."""
        if self.ping_interval is None or self.ping_timeout is None:
            return None
        return self.ping_interval + self.ping_timeout + self.close_timeout


VOICE_KEEPALIVE = Keepalive()
"""Notices a dead link within 10 s."""

WEBSOCKETS_DEFAULTS = Keepalive(ping_interval=20.0, ping_timeout=20.0, close_timeout=10.0)
"""What ``websockets`` does when not told otherwise (for comparison, e.g. in benchmarks)."""


async def watch(
    ping: Callable[[], Awaitable[object]],
    keepalive: Keepalive,
    on_dead: Callable[[str], None],
) -> None:
    """Ping with ``ping()`` every ``ping_interval`` seconds until cancelled or ``ping`` fails;
    call ``on_dead(reason)`` once if a pong takes longer than ``ping_timeout``.

    ``ping()`` is a socket's own (``websockets``: it returns a future that completes on the
    pong); when it returns no awaitable, pings are sent but cannot be timed.
    """
    interval, timeout = keepalive.ping_interval, keepalive.ping_timeout
    if interval is None:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            pong = await ping()
            if timeout is None or not inspect.isawaitable(pong):
                continue
            await asyncio.wait_for(pong, timeout)
        except TimeoutError:
            on_dead(f"no answer to a ping within {timeout:g} s: the link is dead")
            return
        except Exception:  # the socket is closing or closed: its reader reports that
            return
