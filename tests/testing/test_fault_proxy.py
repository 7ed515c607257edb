"""FaultProxy: each fault on a real TCP link on 127.0.0.1, now and on a schedule, and heal()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from voicewire.testing import FaultProxy

pytestmark = pytest.mark.timeout(20)

HOLD_S = 0.3
"""How long a test watches for bytes that must not arrive (no assertion is made on time)."""


async def settle(read_by_proxy: Callable[[], bool]) -> None:
    """Wait until the proxy has read what a test sent, then watch for ``HOLD_S`` more."""
    async with asyncio.timeout(5):
        while not read_by_proxy():  # noqa: ASYNC110 - the proxy's counters have no event
            await asyncio.sleep(0.01)
    await asyncio.sleep(HOLD_S)


@dataclass(eq=False)
class Upstream:
    """A TCP server that records what it receives and can send to its latest client."""

    received: bytearray = field(default_factory=bytearray)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    chunks: list[bytes] = field(default_factory=list)
    writer: asyncio.StreamWriter | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    was_reset = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        try:
            while chunk := await reader.read(65536):
                self.chunks.append(chunk)
                self.received += chunk
                self.arrived.set()
        except ConnectionResetError:
            self.was_reset = True
        self.ended.set()

    async def until(self, size: int) -> bytes:
        async with asyncio.timeout(5):
            while len(self.received) < size:
                self.arrived.clear()
                await self.arrived.wait()
        return bytes(self.received)


@dataclass(eq=False)
class Link:
    proxy: FaultProxy
    upstream: Upstream
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def server_sends(self, data: bytes) -> None:
        assert self.upstream.writer is not None
        self.upstream.writer.write(data)
        await self.upstream.writer.drain()


@asynccontextmanager
async def linked() -> AsyncIterator[Link]:
    upstream = Upstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with FaultProxy("127.0.0.1", port) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        link = Link(proxy, upstream, reader, writer)
        await link.send(b"hi")
        assert await upstream.until(2) == b"hi"
        try:
            yield link
        finally:
            writer.close()
            server.close()


async def test_bytes_flow_both_ways_untouched() -> None:
    async with linked() as link:
        await link.send(b" there")
        assert await link.upstream.until(8) == b"hi there"
        await link.server_sends(b"hello")
        async with asyncio.timeout(5):
            assert await link.reader.readexactly(5) == b"hello"
        assert link.proxy.stats.links == 1 and link.proxy.open_links == 1


async def test_reset_aborts_both_sides_with_rst() -> None:
    async with linked() as link:
        link.proxy.reset()
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(5):
                await link.reader.read(10)
        async with asyncio.timeout(5):
            await link.upstream.ended.wait()
        assert link.upstream.was_reset  # the server side was cut too


async def test_a_persistent_reset_refuses_new_links_until_healed() -> None:
    async with linked() as link:
        link.proxy.reset(persist=True)
        reader, writer = await asyncio.open_connection(*link.proxy.address)
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(5):
                await reader.read(10)
        writer.close()
        link.proxy.heal()
        reader, writer = await asyncio.open_connection(*link.proxy.address)
        writer.write(b"again")
        await writer.drain()
        assert (await link.upstream.until(7)).endswith(b"again")
        writer.close()


async def test_a_blackhole_discards_both_ways_and_keeps_the_link_open() -> None:
    async with linked() as link:
        link.proxy.blackhole()
        await link.send(b"lost")
        await link.server_sends(b"gone")
        await settle(lambda: link.proxy.stats.dropped_bytes >= 8)
        assert link.upstream.received == b"hi"
        assert not link.reader.at_eof() and not link.writer.is_closing()
        link.proxy.heal()
        await link.send(b"back")
        assert await link.upstream.until(6) == b"hiback"  # "lost" was dropped, not held
        await link.server_sends(b"here")
        async with asyncio.timeout(5):
            assert await link.reader.readexactly(4) == b"here"


async def test_a_blackhole_in_one_direction_lets_the_other_through() -> None:
    async with linked() as link:
        link.proxy.blackhole("downstream")
        await link.server_sends(b"gone")
        await link.send(b" up")
        assert await link.upstream.until(5) == b"hi up"
        link.proxy.heal()
        await link.server_sends(b"here")
        async with asyncio.timeout(5):
            assert await link.reader.readexactly(4) == b"here"


async def test_a_blackhole_after_n_bytes_lets_exactly_n_through() -> None:
    async with linked() as link:
        link.proxy.blackhole(after_bytes=5)
        await link.send(b"0123456789")
        assert await link.upstream.until(7) == b"hi01234"
        await settle(lambda: link.proxy.stats.dropped_bytes >= 5)
        assert link.upstream.received == b"hi01234"


async def test_a_reset_after_some_seconds_happens_later() -> None:
    async with linked() as link:
        link.proxy.reset(after_seconds=0.05)
        await link.send(b" still")  # before the reset: delivered
        assert await link.upstream.until(8) == b"hi still"
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(5):
                await link.reader.read(10)


async def test_heal_cancels_a_scheduled_fault() -> None:
    async with linked() as link:
        link.proxy.reset(after_seconds=0.1)
        link.proxy.blackhole(after_bytes=1)
        link.proxy.heal()
        await asyncio.sleep(HOLD_S)
        await link.send(b" ok")
        assert await link.upstream.until(5) == b"hi ok"
        await link.server_sends(b"fine")
        async with asyncio.timeout(5):
            assert await link.reader.readexactly(4) == b"fine"


async def test_a_delay_holds_bytes_until_due_and_keeps_their_order() -> None:
    async with linked() as link:
        link.proxy.delay(60.0, "upstream")
        await link.send(b"a")
        await link.send(b"b")
        await settle(lambda: link.proxy.stats.upstream_bytes >= 4)
        assert link.upstream.received == b"hi"  # read by the proxy, not delivered yet
        await link.server_sends(b"down")  # the other direction is not delayed
        async with asyncio.timeout(5):
            assert await link.reader.readexactly(4) == b"down"
        link.proxy.heal()  # what was held is now due
        assert await link.upstream.until(4) == b"hiab"


async def test_a_throttle_delivers_in_small_pieces() -> None:
    payload = bytes(range(256)) * 40  # 10 kB: 5 s at 2 kB/s
    async with linked() as link:
        link.proxy.throttle(2000)
        chunks_before = len(link.upstream.chunks)
        await link.send(payload)
        await link.upstream.until(3)
        first = link.upstream.chunks[chunks_before]
        assert len(first) < len(payload)
        link.proxy.heal()
        assert await link.upstream.until(2 + len(payload)) == b"hi" + payload


async def test_bad_fault_arguments_are_refused() -> None:
    async with FaultProxy("127.0.0.1", 9) as proxy:
        with pytest.raises(ValueError, match="not both"):
            proxy.reset(after_seconds=1, after_bytes=1)
        with pytest.raises(ValueError, match="positive"):
            proxy.throttle(0)
        with pytest.raises(ValueError, match="direction"):
            proxy.blackhole("sideways")  # type: ignore[arg-type]


def test_the_proxy_url_keeps_scheme_and_path() -> None:
    proxy = FaultProxy.to("ws://127.0.0.1:4321/v1")
    assert (proxy.upstream_host, proxy.upstream_port) == ("127.0.0.1", 4321)
    proxy.port = 5555
    assert proxy.url("ws://127.0.0.1:4321/v1") == "ws://127.0.0.1:5555/v1"


PROXY_TASKS = {"FaultProxy._accept", "FaultProxy._link", "FaultProxy._relay", "FaultProxy._deliver"}


def proxy_tasks() -> list[asyncio.Task[object]]:
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and getattr(t.get_coro(), "__qualname__", "") in PROXY_TASKS
    ]


async def test_a_stall_stops_reading_so_the_senders_buffers_fill_and_heal_delivers_all() -> None:
    payload = bytes(range(256)) * 65536  # 16 MB: more than the kernel buffers on both sides
    async with linked() as link:
        link.proxy.stall("upstream")
        link.writer.write(payload)
        await asyncio.sleep(HOLD_S)
        # Nothing went through and the sender still holds bytes the kernel would not take.
        assert link.upstream.received == b"hi"
        assert link.writer.transport.get_write_buffer_size() > 0
        await link.server_sends(b"down")  # the other direction still flows
        async with asyncio.timeout(5):
            assert await link.reader.readexactly(4) == b"down"
        link.proxy.heal()
        async with asyncio.timeout(10):
            await link.writer.drain()
        assert await link.upstream.until(2 + len(payload)) == b"hi" + payload  # nothing lost


async def test_a_blackhole_keeps_reading_so_the_senders_buffers_never_fill() -> None:
    payload = bytes(range(256)) * 65536
    async with linked() as link:
        link.proxy.blackhole("upstream")
        link.writer.write(payload)
        async with asyncio.timeout(10):
            await link.writer.drain()  # a stall would hold this forever
        assert link.writer.transport.get_write_buffer_size() == 0


@pytest.mark.parametrize("slow", ["delay", "throttle"])
async def test_a_reset_while_a_slow_direction_is_backed_up_ends_every_task(slow: str) -> None:
    async with linked() as link:
        if slow == "delay":
            link.proxy.delay(60.0, "upstream")
        else:
            link.proxy.throttle(1000, "upstream")
        link.writer.write(b"x" * (4 << 20))  # at least 64 reads of 64 kB: more than it queues
        await read_no_more(link.proxy)  # the relay waits for room in its full queue
        link.proxy.reset()
        async with asyncio.timeout(5):
            while link.proxy.open_links or proxy_tasks():  # noqa: ASYNC110
                await asyncio.sleep(0.01)


async def read_no_more(proxy: FaultProxy) -> None:
    """Wait until the proxy has stopped reading (its counter holds still for ``HOLD_S``)."""
    async with asyncio.timeout(10):
        while True:
            before = proxy.stats.upstream_bytes
            await asyncio.sleep(HOLD_S)
            if before and proxy.stats.upstream_bytes == before:
                return


async def test_close_ends_a_link_still_dialing_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = asyncio.open_connection
    dialing = asyncio.Event()

    async def unanswered(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if port != 9:
            return await real_open(host, port)
        dialing.set()
        await asyncio.Event().wait()  # a SYN nobody answers
        raise AssertionError("unreachable")

    monkeypatch.setattr(asyncio, "open_connection", unanswered)
    proxy = await FaultProxy("127.0.0.1", 9).start()
    reader, writer = await real_open(*proxy.address)
    async with asyncio.timeout(5):
        await dialing.wait()
    await proxy.close()
    assert proxy_tasks() == []
    with pytest.raises(ConnectionResetError):  # the client is let go of too
        async with asyncio.timeout(5):
            await reader.read(10)
    writer.close()
