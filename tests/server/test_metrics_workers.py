"""Several server processes with ``PROMETHEUS_MULTIPROC_DIR`` set: a scrape of any one of them
answers with every process's figures (prometheus-client's multiprocess mode), as a scrape of
``voicewire serve --workers N``'s shared port reaches whichever worker the kernel picks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.support import python_process

pytestmark = pytest.mark.timeout(60)


def main() -> None:
    """A server process: the app on 127.0.0.1, port 0; prints its port, serves until killed."""
    import socket

    import uvicorn

    from voicewire import RealtimeAgent
    from voicewire.server import create_app
    from voicewire.testing import ScriptedModel, TextReply

    model = ScriptedModel()
    model.script.default = TextReply("Hello.")
    app = create_app(RealtimeAgent(id="w", name="W", instructions="Be brief."), model)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


@asynccontextmanager
async def process(directory: Path) -> AsyncIterator[str]:
    """One server process writing its metrics to ``directory``; yields its base URL."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    main = "from tests.server.test_metrics_workers import main; main()"
    async with python_process("-c", main, env=env) as child:
        assert child.process.stdout is not None
        port = await asyncio.wait_for(child.process.stdout.readline(), 30)
        yield f"127.0.0.1:{int(port)}"


@asynccontextmanager
async def session(address: str) -> AsyncIterator[int]:
    """A session on the server at ``address`` after one turn; yields the frames it received."""
    async with httpx.AsyncClient() as http:
        response = await http.post(f"http://{address}/realtime/credential")
    token = response.json()["credential"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(f"ws://{address}/v1/realtime", additional_headers=headers) as ws:
        await ws.send('{"type": "response.create"}')
        received = 1
        while '"response.done"' not in str(await asyncio.wait_for(ws.recv(), 10)):
            received += 1
        yield received


async def scrape(address: str) -> dict[tuple[str, str], float]:
    """``(sample name, first label value)``: value."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://{address}/metrics")).text
    return {
        (s.name, next(iter(s.labels.values()), "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def closed(address: str, sessions: int) -> dict[tuple[str, str], float]:
    """A scrape once ``sessions`` sessions are counted closed (a server counts a session's end
    just after its client has seen the close)."""
    seen = await scrape(address)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            while seen.get(("voicewire_sessions_closed_total", "client_closed"), 0) < sessions:
                await asyncio.sleep(0.02)
                seen = await scrape(address)
    return seen


async def test_every_process_answers_with_all_processes_figures(tmp_path: Path) -> None:
    async with process(tmp_path) as one, process(tmp_path) as two:
        async with session(one) as received_one, session(two) as received_two:
            live = await scrape(one)
        after = [await closed(one, 2), await closed(two, 2)]
    assert live[("voicewire_sessions_active", "")] == 2  # one in each process
    for seen in after:
        assert seen[("voicewire_sessions_closed_total", "client_closed")] == 2
        assert seen[("voicewire_sessions_active", "")] == 0
        assert seen[("voicewire_frames_total", "in")] == 2
        assert seen[("voicewire_frames_total", "out")] == received_one + received_two
        assert seen[("voicewire_model_connect_seconds_count", "connect")] == 2
