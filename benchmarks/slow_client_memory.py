"""Script: the memory a client that never reads holds in voicewire's server (issue 9, case 1).

One client connects to ``WS /v1/realtime``, asks for a spoken reply every 50 ms
(``response.create``; the scripted model answers each with a second of 24 kHz audio, ~70 kB of
GA events) and reads nothing. Its socket has the kernel's default buffers, and it does not
negotiate compression (speech does not deflate; the test tone would, to almost nothing).

The server runs in its own process, twice, one after the other in the same run:

- **bounded**: ``create_app``'s defaults (``max_outbox_bytes`` 4 MiB, ``client_send_timeout``
  5 s): the client is closed with 1008 and its session released;
- **unbounded peer**: a 1 GiB outbox and a send timeout of an hour, which is how the server
  behaved before the limits existed.

Every second the script reads the server process's resident memory (``VmRSS``, above what it
held idle after one warm-up session), and the bytes in its relays' outboxes and its open sessions
as the server reports them. The
script prints them, then for each server: the most memory the client held, and when (if ever)
its session was released.

Run: ``python benchmarks/slow_client_memory.py [--seconds 20]``. Linux only (reads ``/proc``);
everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import websockets

from server_load import SERVER_START_TIMEOUT, Server, dying_with_benchmark

REQUEST_INTERVAL = 0.05
REPORT_INTERVAL = 0.5
MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    name: str
    max_outbox_bytes: int
    send_timeout: float


BOUNDED = Limits("bounded (defaults)", 4 * MIB, 5.0)
UNBOUNDED = Limits("unbounded peer", 1024 * MIB, 3600.0)


def _serve(conn: Connection, max_outbox_bytes: int, send_timeout: float) -> None:
    import logging

    import uvicorn

    from voicewire import RealtimeAgent
    from voicewire.server import VoicewireServer, create_app
    from voicewire.server.workers import listen
    from voicewire.testing import AudioReply, ScriptedModel

    logging.getLogger("voicewire").setLevel(logging.ERROR)
    model = ScriptedModel(model_id="scripted")
    model.script.default = AudioReply("A second of speech.", duration_ms=1000)
    app = create_app(
        RealtimeAgent(id="a", name="A", instructions="Answer."),
        model,
        max_outbox_bytes=max_outbox_bytes,
        client_send_timeout=send_timeout,
    )
    server: VoicewireServer = app.state.voicewire

    def report() -> None:  # a thread: reads a few integers the event loop writes
        while True:
            with contextlib.suppress(RuntimeError):  # the set changed size meanwhile
                outbox = sum(relay.outbox_bytes for relay in list(server.relays))
                conn.send((server.active_sessions, outbox))
            time.sleep(REPORT_INTERVAL)

    sock = listen("127.0.0.1", 0, reuse_port=False)
    conn.send(sock.getsockname()[1])
    threading.Thread(target=report, daemon=True).start()
    config = uvicorn.Config(app, lifespan="off", log_level="error", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


async def _token(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /realtime/credential HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )
    body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
    writer.close()
    token: str = json.loads(body)["credential"]["token"]
    return token


async def _connect(port: int) -> websockets.ClientConnection:
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/v1/realtime",
        additional_headers={"Authorization": f"Bearer {await _token(port)}"},
        max_queue=1,  # stop reading the socket as soon as one message waits
        max_size=None,
        compression=None,
        ping_interval=None,
    )


async def _warm_up(port: int) -> None:
    async with await _connect(port) as ws:
        await ws.send(json.dumps({"type": "response.create"}))
        while json.loads(await ws.recv())["type"] != "response.done":
            pass


async def _never_read(port: int, seconds: float) -> None:
    ws = await _connect(port)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            # Bounded: a server that stops reading this client must not stall the script.
            try:
                async with asyncio.timeout(REQUEST_INTERVAL):
                    await ws.send(json.dumps({"type": "response.create"}))
            except TimeoutError:
                pass
            await asyncio.sleep(REQUEST_INTERVAL)
    finally:
        ws.transport.abort()


def measure(limits: Limits, seconds: float) -> None:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=dying_with_benchmark,
        args=(_serve, child, limits.max_outbox_bytes, limits.send_timeout),
    )
    process.start()
    child.close()
    server = Server(limits.name, process, 0)
    try:
        if not parent.poll(SERVER_START_TIMEOUT):
            raise RuntimeError(f"the server did not start in {SERVER_START_TIMEOUT:.0f} s")
        server.port = parent.recv()
        asyncio.run(_measure(server, parent, limits, seconds))
    finally:
        server.stop()
        parent.close()


async def _measure(server: Server, reports: Connection, limits: Limits, seconds: float) -> None:
    port = server.port
    await _warm_up(port)
    await asyncio.sleep(2 * REPORT_INTERVAL)
    idle_kib = server.rss_kib()
    print(
        f"\n{limits.name}: max_outbox_bytes {limits.max_outbox_bytes / MIB:g} MiB, "
        f"client_send_timeout {limits.send_timeout:g} s; idle server RSS {idle_kib / 1024:.1f} MiB"
    )
    print("   t (s)  RSS above idle (MiB)  outbox (MiB)  open sessions")
    client = asyncio.create_task(_never_read(port, seconds))
    started = time.monotonic()
    peak_kib, released_at = 0, None
    while not client.done() or time.monotonic() - started < seconds + 3:
        await asyncio.sleep(1.0)
        active, outbox = _latest(reports)
        elapsed = time.monotonic() - started
        held_kib = server.rss_kib() - idle_kib
        peak_kib = max(peak_kib, held_kib)
        if active == 0 and released_at is None:
            released_at = elapsed
        print(f"  {elapsed:6.1f}  {held_kib / 1024:20.1f}  {outbox / MIB:12.2f}  {active:13d}")
    await client
    released = f"after {released_at:.1f} s" if released_at is not None else "never (still open)"
    print(
        f"  => memory held by the non-reading client: at most {peak_kib / 1024:.1f} MiB above "
        f"idle; its session released {released} (the client gave up at {seconds:g} s)"
    )


def _latest(reports: Connection) -> tuple[int, int]:
    """The server's latest report: open sessions, bytes in outboxes."""
    latest: tuple[int, int] | None = None
    while latest is None or reports.poll():
        latest = reports.recv()
    return latest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the client asks")
    args = parser.parse_args()
    for limits in (BOUNDED, UNBOUNDED):
        measure(limits, args.seconds)


if __name__ == "__main__":
    main()
