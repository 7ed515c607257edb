"""tests.cli.support when the test run itself is killed (a CI timeout, the OOM killer): the
``voicewire serve --workers 2`` it started stops, workers included, with no teardown run."""

from __future__ import annotations

import sys

import pytest

from tests.cli.support import killed_after_starting, still_running

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal"),
]

TEST_RUN = """
import asyncio, time
from tests.cli.support import voicewire_serve, worker_pids

async def main():
    async with voicewire_serve("--model", "scripted:echo", "--workers", "2") as served:
        pids = [served.process.pid, *worker_pids(served.process.pid)]
        print(*pids, flush=True)
        time.sleep(600)  # killed here, its teardown never runs

asyncio.run(main())
"""


async def test_a_killed_test_run_leaves_no_server_or_worker_running() -> None:
    with killed_after_starting("-c", TEST_RUN) as started:
        assert len(started) == 3  # the server and its two workers
        assert not await still_running(started), "a server outlived the test run that started it"
