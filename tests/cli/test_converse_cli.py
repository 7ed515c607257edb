"""The real ``voicewire`` command in a subprocess, against the fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from voicewire.channels import read_wav, write_wav
from voicewire.testing import AudioReply, FakeRealtimeServer, silence, tone

pytestmark = pytest.mark.timeout(60)


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicewire.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 50)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_converse_prints_both_transcripts_and_writes_the_reply(tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    write_wav(question, tone(500, amplitude=0.4) + silence(300), 24000)
    reply = tmp_path / "reply.wav"
    async with FakeRealtimeServer(api_key="sk-test") as server:
        server.script.input_transcript = "what time is it"
        server.script.on("time", AudioReply("It is noon.", duration_ms=700))
        code, out, err = await run_cli(
            "converse",
            str(question),
            "--out",
            str(reply),
            "--model",
            "openai:gpt-realtime",
            "--base-url",
            server.base_url,
            env={"OPENAI_API_KEY": "sk-test"},
        )
        assert server.violations == []
    assert code == 0, err
    assert "you: what time is it" in out
    assert "agent: It is noon." in out
    recorded = read_wav(reply)
    assert recorded.sample_rate == 24000 and round(recorded.duration_ms) == 700


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["converse", "missing.wav", "--out", "x.wav"], "missing.wav"),
        (["converse", "corrupt.wav", "--out", "x.wav"], "corrupt.wav"),
        (["converse", "ok.wav", "--out", "x.wav", "--model", "acme:v1"], "unknown provider 'acme'"),
        (["converse", "ok.wav", "--out", "x.wav", "--agent", "nope"], "module:attribute"),
        (["converse", "ok.wav", "--out", "x.wav", "--model", "openai"], "OPENAI_API_KEY"),
    ],
)
async def test_bad_input_is_one_clear_line_not_a_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    write_wav(tmp_path / "ok.wav", silence(100), 24000)
    os.chdir(tmp_path)
    env = {"OPENAI_API_KEY": ""}
    code, out, err = await run_cli(*args, env=env)
    assert code == 2
    assert "error:" in err and message in err, err
    assert "Traceback" not in err + out
