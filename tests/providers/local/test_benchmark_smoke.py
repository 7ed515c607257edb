"""The local latency benchmark runs end to end on a couple of turns (timings are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from voicewire.testing.parent_death import die_with_parent

from .conftest import needs_models

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "local_latency.py"

pytestmark = [needs_models, pytest.mark.timeout(240)]


def test_the_benchmark_prints_latency_stage_and_barge_in_lines() -> None:
    result = subprocess.run(
        # The answer scores are test_answer_benchmark's.
        [
            sys.executable,
            str(SCRIPT),
            *("--turns", "2", "--barge-ins", "1"),
            "--no-peer",
            "--no-answers",
            *("--pause-set", "1"),
            *("--conversation", "14"),  # one past the first step of the chat window
        ],
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
        preexec_fn=die_with_parent,  # a killed test run leaves no benchmark on the cores
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert re.search(
        r"^local latency \(end of speech -> first audio byte, 2 turns\): "
        r"median \d+\.\d{3} s \| p90 \d+\.\d{3} s$",
        out,
        re.MULTILINE,
    ), out
    assert re.search(r"stage medians .*end of turn .* \| stt .* \| llm .* \| tts ", out), out
    assert re.search(r"^event loop: longest stall \d+ ms during the turns$", out, re.MULTILINE), out
    assert re.search(r"^barge-in", out, re.MULTILINE), out
    assert re.search(
        r"^long call \(one caller, 14 exchanges, the language model alone\): first token median "
        r"\d+\.\d{3} s in exchanges 2-12 \| \d+\.\d{3} s from the 13th \(max \d+\.\d{3} s",
        out,
        re.MULTILINE,
    ), out
    assert re.search(
        r"^two callers taking turns \(6 exchanges each\): first token at the last exchange "
        r"\d+\.\d{3} s with saved states \| \d+\.\d{3} s without \| \d+\.\dx sooner$",
        out,
        re.MULTILINE,
    ), out
    assert re.search(r"smart turn: median \d+\.\d{3} s per judgement", out), out
    assert re.search(
        r"^pause set \(1 sentences, a 0\.7 s pause mid-sentence\): premature ends of turn: "
        r"semantic [01]; complete questions ended by meaning [01]/1",
        out,
        re.MULTILINE,
    ), out
