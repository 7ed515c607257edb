"""The benchmark's answer section prints each model's score beside its time to first token."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from voicewire.testing.parent_death import die_with_parent

from .conftest import needs_models
from .test_benchmark_smoke import SCRIPT

pytestmark = [needs_models, pytest.mark.timeout(240)]


def test_the_answer_section_prints_a_score_per_model() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--answers-only"],
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
        preexec_fn=die_with_parent,  # a killed test run leaves no benchmark on the cores
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for model in ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"):  # make installs both
        assert re.search(
            rf"^answers {re.escape(model)}: \d+/12 right \(fact \d/4, arithmetic \d/3, "
            r"advice \d/2, unknown \d/3\) \| first token median \d+\.\d{3} s$",
            result.stdout,
            re.MULTILINE,
        ), result.stdout
