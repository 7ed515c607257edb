"""A fault-injection TCP proxy for testing realtime agents against bad networks.

Put :class:`FaultProxy` between a client and the server it talks to (a provider, a voicewire
server, :class:`~voicewire.testing.FakeRealtimeServer`) and break the link on purpose — the way
toxiproxy is used, in process, with no daemon::

    async with FakeRealtimeServer() as server, FaultProxy.to(server.base_url) as proxy:
        model = openai.realtime(api_key="sk-test", base_url=proxy.url(server.base_url))
        async with RealtimeSession(agent, model=model) as session:
            proxy.blackhole()          # the link goes silent; both sockets stay open
            ...
            proxy.heal()               # new bytes flow again

Faults (each applies to the links open now and to those opened later, until :meth:`heal`):

* :meth:`reset` — every open link is aborted with a TCP RST on both sides ("connection reset by
  peer"). With ``persist=True`` links opened afterwards are reset as soon as they are accepted.
* :meth:`blackhole` — bytes are read and silently discarded; nothing is closed. This is what a
  half-open link looks like from either end: sends succeed, nothing ever comes back. Bytes
  discarded meanwhile are gone for good, so a stream that lived through a blackhole is usually
  broken after :meth:`heal` — as a real dead link would be; new links work. The proxy keeps
  reading, so the sender's buffers never fill: a sender that waits for room never waits.
* :meth:`stall` — the proxy stops reading; nothing is closed. What is sent piles up in the
  sender's socket buffers until they are full and its sends block, as on a real dead link that
  carries traffic (no acknowledgement comes back). Nothing is lost: after :meth:`heal` what was
  held flows on.
* :meth:`delay` — every chunk is delivered ``seconds`` after the proxy read it (order is kept).
* :meth:`throttle` — at most ``bytes_per_second`` are delivered.

Each takes ``after_seconds=`` or ``after_bytes=`` to happen later: after that many seconds, or
once that many more bytes (both directions together) have gone through the proxy; the chunk that
crosses the threshold is split there, so ``blackhole(after_bytes=100)`` lets exactly 100 bytes
through. :meth:`heal` clears every fault, scheduled ones included. ``direction`` narrows a
fault to ``"upstream"`` (client to server) or ``"downstream"`` (server to client).

Only what the proxy relays is affected: it listens on ``127.0.0.1`` by default and dials the
upstream address it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from .serving import Served

__all__ = ["Direction", "FaultProxy", "ProxyStats"]

Direction = Literal["both", "upstream", "downstream"]
"""``upstream`` is client to server, ``downstream`` server to client."""

_Flow = Literal["upstream", "downstream"]
_FLOWS: Final[tuple[_Flow, _Flow]] = ("upstream", "downstream")
_CHUNK: Final = 65536
_QUEUE_CHUNKS: Final = 16
"""Chunks read ahead per direction: beyond that the proxy stops reading, so a slow (delayed,
throttled) direction pushes back on its sender as a slow network would."""
_THROTTLE_TICK_S: Final = 0.02


@dataclass(slots=True)
class _FlowFaults:
    blackholed: bool = False
    stalled: bool = False
    delay: float = 0.0
    rate: float | None = None


@dataclass(slots=True)
class ProxyStats:
    """What the proxy has relayed so far."""

    links: int = 0
    """Links accepted."""
    upstream_bytes: int = 0
    """Bytes read from clients (delivered or not)."""
    downstream_bytes: int = 0
    """Bytes read from the upstream server (delivered or not)."""
    dropped_bytes: int = 0
    """Bytes a blackhole discarded."""


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False

    def abort(self) -> None:
        """Close both sockets with a TCP RST."""
        self.closed = True
        for writer in (self.client, self.server):
            _abort_with_rst(writer)


@dataclass(eq=False)
class _ByteTrigger:
    remaining: int
    fire: Callable[[], None]


class FaultProxy(Served):
    """A TCP proxy on ``host:port`` (default ``127.0.0.1``, a free port) relaying to
    ``upstream_host:upstream_port``, with faults that can be switched on and off at any time.

    Use it as an async context manager (or :meth:`start` / :meth:`close`). All fault methods are
    plain (not async) calls, so they can be made from a callback, e.g. a status listener.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self.port = port
        self.stats = ProxyStats()
        self._faults: dict[_Flow, _FlowFaults] = {flow: _FlowFaults() for flow in _FLOWS}
        self._resetting = False
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._linking: set[asyncio.Task[None]] = set()
        """One task per accepted link: dialing upstream, then relaying until the link ends."""
        self._timers: set[asyncio.TimerHandle] = set()
        self._byte_triggers: list[_ByteTrigger] = []
        self._changed = asyncio.Event()
        """Set and cleared at once on every change: wakes writers waiting out a delay."""

    @classmethod
    def to(cls, url: str, *, host: str = "127.0.0.1", port: int = 0) -> FaultProxy:
        """A proxy to the host and port of ``url`` (``ws://``, ``wss://``, ``http(s)://``)."""
        parts = urlsplit(url)
        if parts.hostname is None:
            raise ValueError(f"no host in {url!r}")
        default = 443 if parts.scheme in ("wss", "https") else 80
        return cls(parts.hostname, parts.port or default, host=host, port=port)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        """Start listening (``async with`` does this)."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and close every link (with an RST: the proxy goes away abruptly)."""
        self.heal()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        links = list(self._links)
        for link in links:
            link.abort()
        tasks = [*self._linking, *(task for link in links for task in link.tasks)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=5.0)

    # -- addresses ---------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def url(self, upstream_url: str) -> str:
        """``upstream_url`` with its host and port replaced by the proxy's (the scheme stays:
        the proxy relays bytes, so TLS still happens end to end)."""
        parts = urlsplit(upstream_url)
        return urlunsplit(parts._replace(netloc=f"{self.host}:{self.port}"))

    @property
    def open_links(self) -> int:
        return len(self._links)

    # -- faults --------------------------------------------------------------------------------

    def reset(
        self,
        *,
        persist: bool = False,
        after_seconds: float | None = None,
        after_bytes: int | None = None,
    ) -> None:
        """Abort every open link with a TCP RST; with ``persist`` also every later link until
        :meth:`heal`."""

        def apply() -> None:
            self._resetting = persist
            for link in list(self._links):
                link.abort()

        self._schedule(apply, after_seconds, after_bytes)

    def blackhole(
        self,
        direction: Direction = "both",
        *,
        after_seconds: float | None = None,
        after_bytes: int | None = None,
    ) -> None:
        """Discard every byte (in ``direction``) silently and keep the sockets open."""
        self._set(direction, after_seconds, after_bytes, lambda f: replace(f, blackholed=True))

    def stall(
        self,
        direction: Direction = "both",
        *,
        after_seconds: float | None = None,
        after_bytes: int | None = None,
    ) -> None:
        """Stop reading (in ``direction``) and keep the sockets open: the sender's buffers fill
        and its sends block, as on a dead link; :meth:`heal` lets what was held through."""
        self._set(direction, after_seconds, after_bytes, lambda f: replace(f, stalled=True))

    def delay(
        self,
        seconds: float,
        direction: Direction = "both",
        *,
        after_seconds: float | None = None,
        after_bytes: int | None = None,
    ) -> None:
        """Deliver each chunk ``seconds`` after it was read (latency, order kept)."""
        if seconds < 0:
            raise ValueError(f"delay must be >= 0 seconds, got {seconds}")
        self._set(direction, after_seconds, after_bytes, lambda f: replace(f, delay=seconds))

    def throttle(
        self,
        bytes_per_second: float,
        direction: Direction = "both",
        *,
        after_seconds: float | None = None,
        after_bytes: int | None = None,
    ) -> None:
        """Deliver at most ``bytes_per_second`` (in ``direction``)."""
        if bytes_per_second <= 0:
            raise ValueError(f"throttle needs a positive rate, got {bytes_per_second}")
        self._set(
            direction, after_seconds, after_bytes, lambda f: replace(f, rate=bytes_per_second)
        )

    def heal(self) -> None:
        """Clear every fault, in effect or scheduled; bytes flow normally from now on."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._byte_triggers.clear()
        self._resetting = False
        for flow in _FLOWS:
            self._faults[flow] = _FlowFaults()
        self._notify()

    # -- internals -------------------------------------------------------------------------------

    def _set(
        self,
        direction: Direction,
        after_seconds: float | None,
        after_bytes: int | None,
        change: Callable[[_FlowFaults], _FlowFaults],
    ) -> None:
        """Apply ``change`` to the faults of ``direction``, now or on the schedule."""
        flows = _flows(direction)

        def apply() -> None:
            for flow in flows:
                self._faults[flow] = change(self._faults[flow])

        self._schedule(apply, after_seconds, after_bytes)

    def _schedule(
        self, apply: Callable[[], None], after_seconds: float | None, after_bytes: int | None
    ) -> None:
        if after_seconds is not None and after_bytes is not None:
            raise ValueError("give after_seconds or after_bytes, not both")

        def fire() -> None:
            apply()
            self._notify()

        if after_seconds is not None:
            if after_seconds < 0:
                raise ValueError(f"after_seconds must be >= 0, got {after_seconds}")
            loop = asyncio.get_running_loop()
            timer: asyncio.TimerHandle

            def fire_once() -> None:
                self._timers.discard(timer)
                fire()

            timer = loop.call_later(after_seconds, fire_once)
            self._timers.add(timer)
        elif after_bytes is not None:
            if after_bytes < 0:
                raise ValueError(f"after_bytes must be >= 0, got {after_bytes}")
            if after_bytes == 0:
                fire()
            else:
                self._byte_triggers.append(_ByteTrigger(after_bytes, fire))
        else:
            fire()

    def _notify(self) -> None:
        self._changed.set()
        self._changed.clear()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.stats.links += 1
        if self._resetting:
            _abort_with_rst(client)
            return
        # In a task of the proxy's own, so close() can end it while it dials upstream (the task
        # asyncio runs this callback in logs an error if it is cancelled: Python 3.11).
        linking = asyncio.create_task(self._link(client_reader, client))
        self._linking.add(linking)
        linking.add_done_callback(self._linking.discard)
        try:
            await asyncio.wait({linking})
        except asyncio.CancelledError:
            linking.cancel()
            raise
        if not linking.cancelled():
            linking.result()

    async def _link(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        """Dial the upstream server and relay both ways until the link ends."""
        try:
            server_reader, server = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:  # refused or unreachable: the client sees a reset
            _abort_with_rst(client)
            return
        except asyncio.CancelledError:  # the proxy closed while dialing
            _abort_with_rst(client)
            raise
        link = _Link(client, server)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._relay(link, client_reader, server, "upstream")),
            asyncio.create_task(self._relay(link, server_reader, client, "downstream")),
        ]
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            self._links.discard(link)
            if not link.closed:
                link.closed = True
                for writer in (client, server):
                    writer.close()

    async def _relay(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter, flow: _Flow
    ) -> None:
        """Read from ``source``; a stall stops reading, a blackhole discards what is read from
        then on, and a writer task applies delay and throttle at delivery time (to what is
        already queued too). Ends when either side ends or the writer can no longer deliver."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        writer = asyncio.create_task(self._deliver(link, queue, sink, flow))
        loop = asyncio.get_running_loop()
        try:
            while not link.closed:
                try:
                    chunk = await source.read(_CHUNK)
                except (ConnectionError, OSError):
                    link.abort()  # a reset on one side is passed on to the other
                    return
                while self._faults[flow].stalled and not link.closed:  # hold it, read no more
                    await self._changed.wait()
                if not chunk:
                    break
                for piece, fire in self._split(chunk, flow):
                    if self._faults[flow].blackholed:
                        self.stats.dropped_bytes += len(piece)
                    elif not link.closed and not await _hand_over(
                        queue, (loop.time(), piece), writer
                    ):
                        link.abort()  # the sink failed: pass the reset on to the source
                        return
                    for apply in fire:
                        apply()
            if await _hand_over(queue, None, writer):
                await writer
        finally:
            if not writer.done():
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)

    def _split(self, chunk: bytes, flow: _Flow) -> list[tuple[bytes, list[Callable[[], None]]]]:
        """``chunk`` cut where byte-scheduled faults fire, each piece with the faults that fire
        right after it (so ``after_bytes=n`` lets exactly ``n`` bytes through first)."""
        if flow == "upstream":
            self.stats.upstream_bytes += len(chunk)
        else:
            self.stats.downstream_bytes += len(chunk)
        pieces: list[tuple[bytes, list[Callable[[], None]]]] = []
        while chunk:
            due = [t for t in self._byte_triggers if t.remaining <= len(chunk)]
            if not due:
                break
            cut = min(t.remaining for t in due)
            head, chunk = chunk[:cut], chunk[cut:]
            fired = [t for t in due if t.remaining == cut]
            for trigger in fired:
                self._byte_triggers.remove(trigger)
            for trigger in self._byte_triggers:
                trigger.remaining -= cut
            pieces.append((head, [t.fire for t in fired]))
        for trigger in self._byte_triggers:
            trigger.remaining -= len(chunk)
        if chunk:
            pieces.append((chunk, []))
        return pieces

    async def _deliver(
        self,
        link: _Link,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        sink: asyncio.StreamWriter,
        flow: _Flow,
    ) -> None:
        """Write what ``_relay`` queued to ``sink``, each chunk once its delay is over and at
        the throttled rate; ends at the end of the queue, or when the link is reset."""
        faults = self._faults
        loop = asyncio.get_running_loop()
        try:
            while (entry := await queue.get()) is not None:
                read_at, data = entry
                while (wait := read_at + faults[flow].delay - loop.time()) > 0:
                    if link.closed:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), wait)
                while data:
                    rate = faults[flow].rate
                    size = len(data) if rate is None else max(1, int(rate * _THROTTLE_TICK_S))
                    piece, data = data[:size], data[size:]
                    sink.write(piece)
                    await sink.drain()
                    if rate is not None:
                        await asyncio.sleep(len(piece) / rate)
            while faults[flow].blackholed and not link.closed:  # a FIN is lost there too
                await self._changed.wait()
            if sink.can_write_eof():
                sink.write_eof()
        except (ConnectionError, OSError):
            return


async def _hand_over(
    queue: asyncio.Queue[tuple[float, bytes] | None],
    entry: tuple[float, bytes] | None,
    writer: asyncio.Task[None],
) -> bool:
    """Queue ``entry`` for ``writer``, waiting for room (a delayed or throttled direction
    pushes back); ``False`` if the writer ended first (its sink failed) and nobody will ever
    take it."""
    if writer.done():
        return False
    if not queue.full():
        queue.put_nowait(entry)
        return True
    put = asyncio.ensure_future(queue.put(entry))
    try:
        await asyncio.wait({put, writer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not put.done():
            put.cancel()
            await asyncio.gather(put, return_exceptions=True)
    return not put.cancelled()


def _flows(direction: Direction) -> tuple[_Flow, ...]:
    if direction == "both":
        return _FLOWS
    if direction not in _FLOWS:
        raise ValueError(f"direction must be 'both', 'upstream' or 'downstream', got {direction!r}")
    return (direction,)


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    """Close at once and make the kernel send RST instead of FIN (SO_LINGER with timeout 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
