"""The codec benchmark runs end to end on a tiny stream (timings are not asserted)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from voicewire.providers.openai import codec as openai_codec

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "codec.py"
_RATE = r"[\d,]+ ev/s"
_RATIO = r" \| ratio \d+\.\d+x$"
RATIO_LINES = [
    re.compile(
        rf"^codec decode \(dicts\): voicewire {_RATE} \| openai pydantic validate_python {_RATE}"
        + _RATIO,
        re.MULTILINE,
    ),
    re.compile(
        r"^codec decode \(JSON text, as the OpenAI Agents SDK does:"
        r" json\.loads \+ validate_python\):"
        rf" voicewire decode_server_text {_RATE} \| peer {_RATE}" + _RATIO,
        re.MULTILINE,
    ),
    re.compile(
        r"^codec decode \(JSON text vs pydantic validate_json\):"
        rf" voicewire decode_server_text {_RATE} \| pydantic validate_json {_RATE}" + _RATIO,
        re.MULTILINE,
    ),
]


def test_benchmark_prints_ratio_lines() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--events", "200", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for pattern in RATIO_LINES:
        assert pattern.search(result.stdout), (pattern.pattern, result.stdout)
    assert result.stdout.count("| ratio ") == 3


def test_benchmark_imports_without_side_effects(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("voicewire_codec_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert capsys.readouterr().out == ""

    stream = module.generate_stream(300)
    assert len(stream) >= 300
    audio = sum(message["type"] == "response.output_audio.delta" for message in stream)
    assert audio / len(stream) > 0.7
    for message in stream:  # every generated event is one the codec knows
        assert openai_codec.is_known(message["type"]), message["type"]
        openai_codec.decode_server(message)
