"""tests.cli.support when the test run itself is killed (a CI timeout, the OOM killer): the
``voicewire serve --workers 2`` it started stops, workers included, with no teardown run."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from tests.cli.support import ROOT, running, still_running

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
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        TEST_RUN,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    started: list[int] = []
    try:
        assert run.stdout is not None and run.stderr is not None
        line = await asyncio.wait_for(run.stdout.readline(), 60)
        assert line.strip(), (await run.stderr.read()).decode()[-2000:]
        started = [int(pid) for pid in line.split()]
        assert len(started) == 3 and all(running(pid) for pid in started)
        run.kill()
        await run.wait()
        assert not await still_running(started), "a server outlived the test run that started it"
    finally:
        if run.returncode is None:
            run.kill()
            await run.wait()
        for pid in started:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
