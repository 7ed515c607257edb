"""Noticing a dead link within seconds: WebSocket ping settings made for voice.

A link can die without closing: a NAT drops its mapping, a laptop changes networks, a proxy
blackholes the flow. Sends still succeed (into the kernel's buffer) and nothing comes back, so
only a ping that goes unanswered tells. ``websockets``' generic defaults (a ping every 20 s, 20 s
to answer, 10 s to close) take 30-50 s to notice, while a user talks to nobody. Voice needs a
few seconds: :data:`VOICE_KEEPALIVE` notices within ``ping_interval + ping_timeout`` (8 s), and
then takes at most ``close_timeout`` more to let go of the socket.

While audio flows into a dead link the socket's buffers fill and every send waits for room that
never comes, the ping's own send included. ``websockets``' keepalive sends its ping outside its
pong timeout (``await ping()`` waits for the write buffer to drain, then the timeout starts), so
on a link that dies with traffic flowing it never notices. :func:`watch` times the whole
exchange, the ping's send and its pong, under one deadline; the connection also treats a send
blocked for longer than ``ping_timeout`` as a dead link (a ping queued behind it could not have
been answered in time either). That is why the default socket factory turns ``websockets``' own
keepalive off and the connection runs :func:`watch` over every socket with a ``ping()``, the
default one and those from a factory of your own (``ConnectOptions.websocket``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["VOICE_KEEPALIVE", "WEBSOCKETS_DEFAULTS", "Keepalive", "counting", "watch"]


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
        """The longest a dead link can go unnoticed, in seconds (``None``: never noticed).

        The last pong came back at worst just before the link died; the next ping goes out
        ``ping_interval`` later and is given up on ``ping_timeout`` after that, whether it is
        still waiting to be sent or waiting for its pong. The connection reports the link lost at
        that moment; closing the dead socket (``close_timeout``) happens after."""
        if self.ping_interval is None or self.ping_timeout is None:
            return None
        return self.ping_interval + self.ping_timeout


VOICE_KEEPALIVE = Keepalive()
"""Notices a dead link within 8 s, traffic flowing or not, and lets go of it within 2 s more."""

WEBSOCKETS_DEFAULTS = Keepalive(ping_interval=20.0, ping_timeout=20.0, close_timeout=10.0)
"""What ``websockets`` does when not told otherwise (for comparison, e.g. in benchmarks)."""


async def watch(
    ping: Callable[[], Awaitable[object]],
    keepalive: Keepalive,
    on_dead: Callable[[str], None],
) -> None:
    """Ping with ``ping()`` every ``ping_interval`` seconds until cancelled or ``ping`` fails;
    call ``on_dead(reason)`` once if the ping is not both sent and answered within
    ``ping_timeout``.

    ``ping()`` is a socket's own (``websockets``: it waits until the ping is handed to the
    socket, which on a dead link with full buffers is never, and returns a future that
    completes on the pong); when it returns no awaitable, only its send can be timed.
    """
    interval, timeout = keepalive.ping_interval, keepalive.ping_timeout
    if interval is None:
        return
    while True:
        await asyncio.sleep(interval)
        pong: object = None
        try:
            async with asyncio.timeout(timeout):
                pong = await ping()
                if inspect.isawaitable(pong):
                    await pong
        except TimeoutError:
            if _answered(pong):  # the pong and the deadline came due in one loop turn
                continue
            on_dead(f"a ping was not sent and answered within {timeout:g} s: the link is dead")
            return
        except Exception:  # the socket is closing or closed: its reader reports that
            return


def counting(
    ping: Callable[[], Awaitable[object]],
    written: Callable[[], int],
    proven: Callable[[int], None],
) -> Callable[[], Awaitable[object]]:
    """``ping``, which on its pong calls ``proven(n)`` with what ``written()`` counted when it
    was sent: a WebSocket delivers in order, so the pong proves those frames arrived (the
    :class:`~voicewire.protocol.ReportsDelivery` hook)."""

    async def ping_counted() -> object:
        count = written()
        pong = await ping()
        if isinstance(pong, asyncio.Future):

            def on_pong(done: asyncio.Future[object]) -> None:
                if not done.cancelled() and done.exception() is None:
                    proven(count)

            pong.add_done_callback(on_pong)
        return pong

    return ping_counted


def _answered(pong: object) -> bool:
    """Whether the pong future completed after all (the event loop was too busy to run the
    waiting task before its deadline fired): a loaded machine is not a dead link."""
    return isinstance(pong, asyncio.Future) and pong.done() and not pong.cancelled()
