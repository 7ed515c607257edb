"""Benchmark: seconds to notice a link that stalls while audio flows into it, ``websockets``' own
keepalive against voicewire's, measured side by side in the same run.

Each trial connects the real OpenAI provider to :class:`~voicewire.testing.FakeRealtimeServer`
through a :class:`~voicewire.testing.FaultProxy`, waits for ``session.created``, starts sending
input audio faster than real time (``--rate`` bytes of PCM16 a second), stalls the proxy (it
stops reading: the socket buffers fill, every send waits for room, as on a dead link that carries
traffic) and times how long until the connection reports the link lost, giving up after
``--give-up`` seconds. ``websockets``' keepalive sends its ping outside its pong timeout, so once
the buffers are full its ping waits forever; voicewire times the ping's send and its pong under
one deadline and treats a stuck send as a dead link. Both run on the same 4 s / 4 s settings.

Run: ``python benchmarks/stalled_link.py [--trials N] [--rate BYTES] [--give-up S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Mapping, Sequence

from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from voicewire.protocol import (
    AudioInputAppend,
    ConnectOptions,
    SessionCreated,
    TransportStatus,
    WebSocketFactory,
    WireSocket,
)
from voicewire.providers import openai
from voicewire.providers.keepalive import VOICE_KEEPALIVE, Keepalive
from voicewire.testing import FakeRealtimeServer, FaultProxy

CHUNK_S = 0.1
"""Audio per send: 100 ms of 24 kHz PCM16."""


def websockets_keepalive(keepalive: Keepalive) -> WebSocketFactory:
    """Sockets that ping themselves, as the default factory did before (``websockets``' own
    keepalive on ``keepalive``'s settings)."""

    async def dial(url: str, subprotocols: Sequence[str], headers: Mapping[str, str]) -> WireSocket:
        return await ws_connect(
            url,
            additional_headers=dict(headers),
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
            compression=None,  # as the default factory: silence would deflate to nothing
            max_size=None,
            ping_interval=keepalive.ping_interval,
            ping_timeout=keepalive.ping_timeout,
            close_timeout=keepalive.close_timeout,
        )

    return dial


async def seconds_to_notice(
    server: FakeRealtimeServer, own_keepalive: bool, rate: int, give_up: float
) -> float | None:
    async with FaultProxy.to(server.base_url) as proxy:
        url = proxy.url(server.base_url)
        if own_keepalive:
            model = openai.realtime(api_key="sk-test", base_url=url, keepalive=VOICE_KEEPALIVE)
            options = ConnectOptions()
        else:  # the connection neither pings nor times its sends: websockets alone
            off = Keepalive(ping_interval=None, ping_timeout=None)
            model = openai.realtime(api_key="sk-test", base_url=url, keepalive=off)
            options = ConnectOptions(websocket=websockets_keepalive(VOICE_KEEPALIVE))
        connection = await model.connect(options)
        lost = asyncio.Event()
        connection.on_status(
            lambda status: lost.set() if status is not TransportStatus.CONNECTED else None
        )
        async for event in connection:
            if isinstance(event, SessionCreated):
                break
        chunk = bytes(int(rate * CHUNK_S) & ~1)

        async def pump() -> None:
            while not lost.is_set():
                connection.send(AudioInputAppend(chunk))
                await asyncio.sleep(CHUNK_S)

        pumping = asyncio.create_task(pump())
        await asyncio.sleep(1.0)  # the link carries audio
        proxy.stall()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(give_up):
                await lost.wait()
            return time.perf_counter() - started
        except TimeoutError:
            return None
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            await connection.close()


def describe(times: list[float | None], give_up: float) -> str:
    noticed = [t for t in times if t is not None]
    missed = len(times) - len(noticed)
    low, mid, high = (
        (min(noticed), statistics.median(noticed), max(noticed)) if noticed else (0, 0, 0)
    )
    figures = f"min {low:5.1f}  median {mid:5.1f}  max {high:5.1f}" if noticed else "never"
    return f"{figures}  ({missed} of {len(times)} not noticed within {give_up:g} s)"


async def main(trials: int, rate: int, give_up: float) -> None:
    settings = {"websockets keepalive": False, "voicewire keepalive": True}
    async with FakeRealtimeServer(api_key="sk-test") as server:
        runs = [
            asyncio.gather(*(seconds_to_notice(server, own, rate, give_up) for _ in range(trials)))
            for own in settings.values()
        ]
        results = await asyncio.gather(*runs)
    print(
        f"seconds to notice a stalled link with {rate / 1e6:g} MB/s of audio flowing"
        f" ({trials} trials each, same run; ping {VOICE_KEEPALIVE.ping_interval:g} s,"
        f" timeout {VOICE_KEEPALIVE.ping_timeout:g} s, bound {VOICE_KEEPALIVE.detects_within:g} s)"
    )
    for name, times in zip(settings, results, strict=True):
        print(f"  {name:<22} {describe(times, give_up)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rate", type=int, default=2_000_000, help="audio bytes per second")
    parser.add_argument("--give-up", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.trials, args.rate, args.give_up))
