"""The command line on the offline model: ``voicewire converse`` and ``voicewire demo``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.test_converse_cli import run_cli
from tests.cli.test_serve_cli import free_port
from tests.providers.local.conftest import Speech, needs_models, words
from voicewire.channels import read_wav

pytestmark = [needs_models, pytest.mark.timeout(180)]


async def test_converse_with_the_local_model(speech: Speech, tmp_path: Path) -> None:
    reply = tmp_path / "reply.wav"
    code, out, err = await run_cli("converse", str(speech.wav("capital")), "--out", str(reply))
    assert code == 0, err
    heard = next(line for line in out.splitlines() if line.startswith("you:"))
    assert words(heard) == "you what is the capital of france"
    said = next(line for line in out.splitlines() if line.startswith("agent:"))
    assert len(words(said).split()) > 1
    assert read_wav(reply).duration_ms > 300


async def test_demo_serves_the_page_and_credentials() -> None:
    port = free_port()
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicewire.cli",
        "demo",
        "--port",
        str(port),
        env={**os.environ, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):
                try:
                    page = await http.get("/", timeout=1)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert page.status_code == 200 and "/static/demo.js" in page.text
            minted = await http.post("/realtime/credential")
            assert minted.status_code == 200 and minted.json()["credential"]["kind"] == "token"
    finally:
        demo.terminate()
        out, _ = await asyncio.wait_for(demo.communicate(), 30)
    assert f"http://127.0.0.1:{port}/" in out.decode()
