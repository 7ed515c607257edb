"""``voicewire serve`` as a real process, and ``voicewire token`` against it."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import sys
from datetime import UTC, datetime

import httpx
import pytest
import websockets

from tests.cli.support import alive, free_port, python_process, voicewire_serve, worker_pids
from tests.cli.test_converse_cli import run_cli
from voicewire.protocol import credential_from_json

pytestmark = pytest.mark.timeout(60)


async def test_serve_then_mint_a_token() -> None:
    async with voicewire_serve(
        *("--agent", "tests.cli.agent_fixture:agent", "--model", "openai:gpt-realtime"),
        env={"OPENAI_API_KEY": "sk-never-shown"},
    ) as served:
        code, out, err = await run_cli("token", "--url", served.url)
        assert code == 0, err
        credential = credential_from_json(json.loads(out))
        assert credential.expires_at > datetime.now(UTC)
        assert "sk-never-shown" not in out
    assert "sk-never-shown" not in served.output


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT workers: Linux")
async def test_serve_with_two_workers_any_worker_honours_any_workers_token() -> None:
    options = ("--model", "scripted:echo", "--workers", "2")
    async with voicewire_serve(*options) as served:
        assert "2 workers" in served.ready
        workers = worker_pids(served.process.pid)
        assert len(workers) == 2
        # Each credential request and each WebSocket is a new connection, which the kernel hands
        # to either worker: with 12 of each, a token that only its own worker honoured would be
        # refused with probability 1 - 2**-12.
        for n in range(12):
            async with httpx.AsyncClient() as http:
                response = await http.post(f"{served.url}/realtime/credential")
            token = response.json()["credential"]["token"]
            url = f"ws://127.0.0.1:{served.port}/v1/realtime?model=gpt-realtime"
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
    assert served.process.returncode is not None
    assert not [p for p in workers if alive(p)]  # no worker left behind


STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)"
)


async def test_a_server_that_does_not_stop_is_killed_not_left_behind() -> None:
    async with python_process("-c", STUBBORN) as stubborn:
        assert stubborn.process.stdout is not None
        # its SIGTERM handler is in place
        await asyncio.wait_for(stubborn.process.stdout.readline(), 20)
        with pytest.raises(TimeoutError):
            await stubborn.stop(timeout=0.5)
    assert stubborn.process.returncode == -signal.SIGKILL


async def test_a_failing_test_stops_its_server_and_keeps_its_error() -> None:
    with pytest.raises(AssertionError, match="the test's own"):
        async with voicewire_serve("--model", "scripted:echo") as served:
            raise AssertionError("the test's own failure")
    assert served.process.returncode == 0  # it drained: SIGTERM, not SIGKILL
    assert not alive(served.process.pid)
