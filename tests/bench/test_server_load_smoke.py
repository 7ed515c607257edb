"""The server load benchmark runs end to end with a few sessions (timings are not asserted)."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from voicewire.testing.parent_death import die_with_parent

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "server_load.py"
_MS = r"-?\d+\.\d\d ms"


def _block(stdout: str, title: str) -> str:
    """The indented lines under ``title``."""
    match = re.search(rf"^{re.escape(title)}\n((?:  .*\n?)+)", stdout, re.MULTILINE)
    assert match, (title, stdout)
    return match.group(1)


@pytest.mark.timeout(180)
def test_benchmark_runs_and_reports() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *("--sessions", "3", "--seconds", "1", "--workers", "1,2", "--repeat", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
        preexec_fn=die_with_parent,  # a killed test run stops the benchmark and its servers
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^server_load: 3 sessions x 1 s \(50 frames each\)", out, re.MULTILINE)
    assert re.search(r"^round 2 of 2$", out, re.MULTILINE), out
    for workers in ("1 worker", "2 workers"):
        label = f"voicewire (ScriptedModel echo, {workers})"
        for title in ("reference (bare websockets echo)", label):
            block = _block(out, title)
            assert re.search(r"^  sessions held: +3/3$", block, re.MULTILINE), block
            assert re.search(r"^  frames sent: +150$", block, re.MULTILINE), block
            assert re.search(r"^  frames lost: +0$", block, re.MULTILINE), block
            assert re.search(rf"^  round trip p50/p99: +{_MS} / {_MS}$", block, re.M), block
            memory = r"^  memory per session: +-?\d+\.\d KiB \(server RSS"
            assert re.search(memory, block, re.MULTILINE), block
            assert re.search(r"^  server stopped: +yes \(exit code -?\d+\)$", block, re.M), block
            assert "failed sessions" not in block and "corrupt" not in block, block
        added = _block(out, f"added latency ({label} - reference)")
        assert re.search(rf"^  p50 added: +{_MS}$", added, re.MULTILINE), added
        assert re.search(rf"^  p99 added: +{_MS}$", added, re.MULTILINE), added
        goals = _block(out, f"goals ({label})")
        assert re.search(r"^  200 sessions held: +NOT met \(3 held of 3 run\)$", goals, re.M)
        assert re.search(r"^  p99 added <= 20 ms: +(NOT )?met \(", goals, re.MULTILINE), goals
        assert re.search(r"^  0 frames lost: +met \(0 lost\)$", goals, re.MULTILINE), goals
        rounds = _block(out, "across rounds (median of the rounds' figures)")
        assert re.search(
            rf"^  {workers}: p99 added median {_MS} \(rounds, sorted: .* ms\), fewest sessions "
            r"held 3, frames lost 0: goal (NOT )?met$",
            rounds,
            re.MULTILINE,
        ), rounds


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The benchmark script as a module (importing it must run nothing)."""
    name = "voicewire_server_load_benchmark"
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_frames_carry_their_session_and_counter(
    bench: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert capsys.readouterr().out == ""  # importing ran nothing
    frame = bench.frame_audio(7, 123_456)
    assert len(frame) == 960  # 20 ms of 24 kHz PCM16
    assert bench.HEADER.unpack_from(frame) == (7, 123_456)
    assert frame != bench.frame_audio(7, 123_457)


async def test_echoes_are_matched_and_checked(bench: Any) -> None:
    for target in (bench.reference_target(1), bench.voicewire_target(1, None)):
        client = bench.Session(3, target, None)
        sent = {}
        for seq in range(4):
            sent[seq] = base64.b64encode(bench.frame_audio(3, seq)).decode()
            client.sent[seq] = (1.0, sent[seq])
            client.result.sent += 1

        def echo(audio: str, target: Any = target) -> bytes:
            return json.dumps({"type": target.echo_type, target.echo_field: audio}).encode()

        tampered = bytearray(bench.frame_audio(3, 0))
        tampered[500] ^= 1
        client._on_message(echo(sent[2]), 1.004)  # out of order is fine
        client._on_message(echo(sent[1]), 1.003)
        client._on_message(echo(sent[1]), 1.005)  # twice: a duplicate
        client._on_message(echo(base64.b64encode(bytes(tampered)).decode()), 1.006)  # corrupt
        client._on_message(echo(base64.b64encode(bench.frame_audio(4, 3)).decode()), 1.007)
        client._on_message(echo(sent[3][:-4]), 1.008)  # cut short
        result = client.result
        assert (result.echoed, result.duplicates, result.corrupt) == (2, 1, 3)
        assert sorted(client.sent) == [0, 3]  # never came back intact: lost
        assert result.rtts == pytest.approx([0.004, 0.003])
