"""The server load benchmark killed mid-run (a test's timeout SIGKILLs it, Ctrl-C twice) leaves
no server running: its server processes, a two-worker voicewire's workers included, stop."""

from __future__ import annotations

import sys

import pytest

from tests.cli.support import killed_after_starting, still_running

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal"),
]

BENCHMARK = """
import sys, time
sys.path.insert(0, "benchmarks")
import server_load

if __name__ == "__main__":
    echo = server_load.start_server("voicewire", server_load._serve_voicewire, "auto", "asyncio", 2)
    reference = server_load.start_server("reference", server_load._serve_reference)
    print(*echo.pids(), *reference.pids(), flush=True)
    time.sleep(600)  # killed here, its servers never stopped
"""


async def test_a_killed_benchmark_leaves_no_server_running() -> None:
    with killed_after_starting("-c", BENCHMARK) as started:
        assert len(started) == 4  # a server and its two workers, and the reference server
        assert not await still_running(started), "a server outlived the benchmark"
