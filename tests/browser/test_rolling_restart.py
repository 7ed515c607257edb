"""A rolling restart under a live browser session: the demo page, behind a load balancer, talks to
instance A (a real process); A is sent SIGTERM, drains and closes the session with 1012; the
page's ``RealtimeClient`` reconnects through the balancer, which now sends it to instance B (A is
not ready), with its resume handle; B gets the conversation from the Redis both share, the page's
transcript is not duplicated, and a new turn is answered from what was said on A."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.cli.support import ROOT, Running, free_port, python_process
from voicewire.testing.redis_server import RedisServer

from .conftest import chromium, open_page
from .rolling import HEARD, NOTED, RECALL, Balancer

pytestmark = pytest.mark.timeout(120)

SECRET = "rolling-restart-shared-secret-0123456789"


async def ready(port: int, within: float = 40.0) -> None:
    """Wait until the instance on ``port`` answers ``/readyz`` with 200."""
    async with httpx.AsyncClient(timeout=2.0) as http:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            assert asyncio.get_running_loop().time() < deadline, f"instance on {port} not ready"
            await asyncio.sleep(0.1)


@asynccontextmanager
async def instance(port: int, redis: RedisServer) -> AsyncIterator[Running]:
    """One voicewire instance (``tests.browser.rolling``) as a process, ready; stopped after."""
    argv = ("-m", "tests.browser.rolling", str(port), redis.url, SECRET)
    async with python_process(*argv, env={"PYTHONPATH": str(ROOT)}) as process:
        await ready(port)
        yield process


async def metric(port: int, line: str) -> bool:
    async with httpx.AsyncClient(timeout=2.0) as http:
        return line in (await http.get(f"http://127.0.0.1:{port}/metrics")).text


async def test_a_browser_session_survives_a_rolling_restart(
    speech_wav: Path, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    port_a, port_b = free_port(), free_port()
    try:
        async with (
            instance(port_a, redis) as a,
            instance(port_b, redis),
            Balancer([port_a, port_b]) as balancer,
            chromium(speech_wav) as browser,
            open_page(browser, f"http://127.0.0.1:{balancer.port}/") as (page, problems),
        ):
            await page.evaluate(
                "window.statuses = []; window.errors = [];"
                " window.voicewireDemo.client.on('status', (s) => window.statuses.push(s));"
                " window.voicewireDemo.client.on('error', (e) => window.errors.push(e.code));"
                " null"
            )
            await page.click("#start")  # the microphone plays the WAV: a spoken turn, on A
            await page.locator(".line.user .text").get_by_text(HEARD).wait_for()
            await page.locator(".line.assistant .text").get_by_text(NOTED).wait_for()
            handle = await page.evaluate("window.voicewireDemo.client.resumeHandle")
            assert isinstance(handle, str) and handle.startswith("vwr1.")
            assert set(balancer.routed) == {port_a}

            a.process.send_signal(signal.SIGTERM)  # drain: not ready, answers finish, then 1012
            await a.exited(30)
            err = a.err.decode()
            assert a.process.returncode == 0 and "Traceback" not in err, err
            await page.wait_for_function(
                "window.statuses.join(',') === 'connecting,connected,reconnecting,connected'"
            )
            assert balancer.routed[-1] == port_b
            assert await metric(port_b, 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0')
            assert await page.evaluate("window.voicewireDemo.client.resumeHandle") == handle

            # What the user says on B is delivered, and B's model knows what was said on A.
            await page.fill("#message", RECALL)
            await page.click("#send")
            answer = f"You said: {HEARD}."
            await page.locator(".line.assistant .text").get_by_text(answer).wait_for()
            texts = await page.locator(".line .text").all_text_contents()
            assert texts == [HEARD, NOTED, RECALL, answer]
            ids = await page.evaluate("window.voicewireDemo.client.transcript.map(e => e.itemId)")
            assert len(set(ids)) == 4 and not any("~" in i for i in ids), ids
            assert await page.evaluate("window.errors") == []
            problems.check()
    finally:
        redis.stop()
