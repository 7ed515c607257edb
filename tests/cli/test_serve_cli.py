"""``voicewire serve`` as a real process, and ``voicewire token`` against it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import websockets

from tests.cli.test_converse_cli import run_cli
from voicewire.protocol import credential_from_json

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


async def stopped(
    server: asyncio.subprocess.Process,
    timeout: float = 20,  # noqa: ASYNC109
) -> tuple[bytes, bytes]:
    """Stop a served process (SIGTERM: it drains) and collect its output. One still running
    after ``timeout`` is killed with its children (workers), then the timeout is raised: no
    test leaves a server behind."""
    with contextlib.suppress(ProcessLookupError):
        server.terminate()
    try:
        return await asyncio.wait_for(server.communicate(), timeout)
    except TimeoutError:
        for pid in [*_children(server.pid), server.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await server.wait()
        raise


async def until_listening(port: int) -> None:
    """Wait until ``port`` on 127.0.0.1 takes connections (bounded: 30 s). A single server
    process prints its URL just before it listens."""
    async with asyncio.timeout(30):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_then_mint_a_token() -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicewire.cli",
        "serve",
        "--agent",
        "tests.cli.agent_fixture:agent",
        "--model",
        "openai:gpt-realtime",
        "--port",
        str(port),
        cwd=ROOT,
        env={**os.environ, "OPENAI_API_KEY": "sk-never-shown", "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        ready = await asyncio.wait_for(server.stdout.readline(), 40)
        assert f"http://127.0.0.1:{port}/" in ready.decode(), ready
        await until_listening(port)
        code, out, err = await run_cli("token", "--url", f"http://127.0.0.1:{port}")
        assert code == 0, err
        credential = credential_from_json(json.loads(out))
        assert credential.expires_at > datetime.now(UTC)
        assert "sk-never-shown" not in out
    finally:
        served_out, served_err = await stopped(server)
    assert "sk-never-shown" not in (ready + served_out + served_err).decode()


async def test_token_from_nowhere_is_a_clear_error() -> None:
    code, out, err = await run_cli("token", "--url", f"http://127.0.0.1:{free_port()}")
    assert out == ""
    assert code == 2 and "could not reach" in err and "Traceback" not in err


async def test_serve_on_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = await run_cli(
            "serve", "--model", "openai", "--port", str(port), env={"OPENAI_API_KEY": "k"}
        )
    assert code != 0 and "Traceback" not in err
    assert str(port) in err or str(port) in out


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT workers: Linux")
async def test_serve_with_two_workers_any_worker_honours_any_workers_token() -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicewire.cli",
        "serve",
        "--model",
        "scripted:echo",
        "--workers",
        "2",
        "--port",
        str(port),
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 40)
        assert f"http://127.0.0.1:{port}/" in line.decode() and "2 workers" in line.decode()
        workers = [p for p in _children(server.pid) if "spawn_main" in _cmdline(p)]
        assert len(workers) == 2
        # Each credential request and each WebSocket is a new connection, which the kernel hands
        # to either worker: with 12 of each, a token that only its own worker honoured would be
        # refused with probability 1 - 2**-12.
        for n in range(12):
            async with httpx.AsyncClient() as http:
                response = await http.post(f"http://127.0.0.1:{port}/realtime/credential")
            token = response.json()["credential"]["token"]
            url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
            headers = {"Authorization": f"Bearer {token}"}
            async with websockets.connect(url, additional_headers=headers) as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
                audio = base64.b64encode(bytes([n]) * 960).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
                while (event := json.loads(await ws.recv()))["type"] != (
                    "response.output_audio.delta"
                ):
                    assert event["type"] != "error", event
                assert event["delta"] == audio
    finally:
        await stopped(server)
    assert server.returncode is not None
    assert not [p for p in workers if _alive(p)]  # no worker left behind


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def test_a_server_that_does_not_stop_is_killed_not_left_behind() -> None:
    stubborn = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert stubborn.stdout is not None
    await asyncio.wait_for(stubborn.stdout.readline(), 20)  # its SIGTERM handler is in place
    with pytest.raises(TimeoutError):
        await stopped(stubborn, timeout=0.5)
    assert stubborn.returncode == -signal.SIGKILL
