"""``voicewire serve`` as a real process sent SIGTERM: it reports not ready, lets the answers
under way finish, closes its sessions with 1012 (service restart) and exits normally, with one
worker or several. The echo model keeps a response open from the first audio chunk until the
client commits, which is what makes an answer under way here."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys

import httpx
import pytest
import websockets

from tests.cli.support import alive, voicewire_serve, worker_pids

pytestmark = pytest.mark.timeout(90)
CHUNK = base64.b64encode(bytes(range(96)) * 10).decode()


async def _start_answer(ws: websockets.ClientConnection) -> None:
    """Open an echo response: the first chunk is sent back at once."""
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": CHUNK}))
    while json.loads(await ws.recv())["type"] != "response.output_audio.delta":
        pass


async def _finish_answer(ws: websockets.ClientConnection) -> str:
    """Send one more chunk, commit, and return the status the response ends with."""
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": CHUNK}))
    await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
    while (event := json.loads(await ws.recv()))["type"] != "response.done":
        pass
    return str(event["response"]["status"])


async def _session(port: int) -> websockets.ClientConnection:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"http://127.0.0.1:{port}/realtime/credential")
    token = response.json()["credential"]["token"]
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {token}"},
    )
    assert json.loads(await ws.recv())["type"] == "session.created"
    return ws


async def _close_code(ws: websockets.ClientConnection) -> int:
    try:
        async with asyncio.timeout(20):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None, "no close frame: the session was cut, not drained"
        return closed.rcvd.code


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_closes_sessions_with_1012_and_exits_0(workers: int) -> None:
    if workers > 1 and not sys.platform.startswith("linux"):
        pytest.skip("SO_REUSEPORT workers: Linux")
    options = ("--model", "scripted:echo", "--workers", str(workers), "--drain-timeout", "10")
    async with voicewire_serve(*options) as served:
        port = served.port
        spawned = worker_pids(served.process.pid)
        assert len(spawned) == (workers if workers > 1 else 0)
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        assert ready.status_code == 200
        sessions = [await _session(port) for _ in range(2 * workers)]
        for ws in sessions:
            await _start_answer(ws)
        served.process.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient() as http:
            for _ in range(100):  # every worker: no longer ready, still answering
                statuses = {
                    (await http.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code
                    for _ in range(8)
                }
                if statuses == {503}:
                    break
                await asyncio.sleep(0.05)
        assert statuses == {503}
        finished = [await _finish_answer(ws) for ws in sessions]
        codes = await asyncio.gather(*(_close_code(ws) for ws in sessions))
        await served.exited(40)
    assert finished == ["completed"] * len(sessions)
    assert codes == [1012] * len(sessions)
    assert served.process.returncode == 0, served.err.decode()
    assert "Traceback" not in served.err.decode()
    assert not [p for p in spawned if alive(p)]
