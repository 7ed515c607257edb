"""The command line on the offline model: ``voicewire converse`` and ``voicewire demo``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.support import voicewire_serve
from tests.cli.test_converse_cli import run_cli
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
    async with (
        voicewire_serve(command="demo", within=150) as served,  # it printed its URL
        httpx.AsyncClient(base_url=served.url) as http,
    ):
        page = await http.get("/", timeout=10)
        assert page.status_code == 200 and "/static/demo.js" in page.text
        minted = await http.post("/realtime/credential")
        assert minted.status_code == 200 and minted.json()["credential"]["kind"] == "token"
