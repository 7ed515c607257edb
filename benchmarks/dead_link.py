"""Benchmark: seconds to notice a dead (blackholed) link to the model, websockets' generic
keepalive defaults against voicewire's voice keepalive, measured side by side in the same run.

Each trial connects the real OpenAI provider to :class:`~voicewire.testing.FakeRealtimeServer`
through a :class:`~voicewire.testing.FaultProxy`, waits for ``session.created``, blackholes the
proxy (bytes silently discarded both ways, sockets left open: a half-open link) and times how long
until the connection reports the link lost. Both settings run concurrently, each with its own
proxy, so the figures share one machine state. The link dies at a random point of the ping cycle,
as in life, so several trials are run.

Run: ``python benchmarks/dead_link.py [--trials N]`` (about 50 s: the old defaults are slow).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from voicewire.protocol import ConnectOptions, SessionCreated, TransportStatus
from voicewire.providers import openai
from voicewire.providers.keepalive import (
    VOICE_KEEPALIVE,
    WEBSOCKETS_DEFAULTS,
    Keepalive,
)
from voicewire.testing import FakeRealtimeServer, FaultProxy


async def seconds_to_notice(server: FakeRealtimeServer, keepalive: Keepalive) -> float:
    async with FaultProxy.to(server.base_url) as proxy:
        model = openai.realtime(
            api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=keepalive
        )
        connection = await model.connect(ConnectOptions())
        lost = asyncio.Event()
        connection.on_status(
            lambda status: lost.set() if status is not TransportStatus.CONNECTED else None
        )
        async for event in connection:
            if isinstance(event, SessionCreated):
                break
        interval = keepalive.ping_interval or 0.0
        await asyncio.sleep(random.uniform(0, interval))  # somewhere in the ping cycle
        proxy.blackhole()
        started = time.perf_counter()
        await lost.wait()
        elapsed = time.perf_counter() - started
        await connection.close()
        return elapsed


async def main(trials: int) -> None:
    settings = {"websockets defaults": WEBSOCKETS_DEFAULTS, "voicewire voice": VOICE_KEEPALIVE}
    async with FakeRealtimeServer(api_key="sk-test") as server:
        runs = [
            asyncio.gather(*(seconds_to_notice(server, keepalive) for _ in range(trials)))
            for keepalive in settings.values()
        ]
        results = await asyncio.gather(*runs)
    print(f"seconds to notice a blackholed link ({trials} trials each, same run)")
    for (name, keepalive), times in zip(settings.items(), results, strict=True):
        print(
            f"  {name:<20} ping {keepalive.ping_interval:g}s / timeout {keepalive.ping_timeout:g}s"
            f" / close {keepalive.close_timeout:g}s:  min {min(times):5.1f}  median"
            f" {statistics.median(times):5.1f}  max {max(times):5.1f}"
            f"  (bound {keepalive.detects_within:g})"
        )
    old, new = (statistics.median(times) for times in results)
    print(f"  median ratio: {old / new:.1f}x sooner")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    asyncio.run(main(parser.parse_args().trials))
