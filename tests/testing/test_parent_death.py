"""die_with_parent: a process started through it is gone once the process that started it is
SIGKILLed (as a test run killed by a CI timeout or the OOM killer), and one started without it
outlives it (what the helper is for)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.cli.support import ROOT, running, still_running
from voicewire.testing import die_with_parent, parent_death

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal"),
]

INTERMEDIATE = """
import subprocess, sys, time
from voicewire.testing.parent_death import die_with_parent
guard = die_with_parent if sys.argv[1] == "guarded" else None
child = subprocess.Popen(["sleep", "600"], stdout=subprocess.DEVNULL, preexec_fn=guard)
print(child.pid, flush=True)
time.sleep(600)
"""


@contextmanager
def grandchild_of_a_killed_process(mode: str) -> Iterator[int]:
    """Start an intermediate Python process that starts ``sleep 600`` (through the helper when
    ``mode`` is "guarded"), SIGKILL the intermediate, and yield the sleep's pid; the sleep is
    killed afterwards whatever the test found."""
    intermediate = subprocess.Popen(
        [sys.executable, "-c", INTERMEDIATE, mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child = 0
    try:
        assert intermediate.stdout is not None
        line = intermediate.stdout.readline()  # bounded by the module's timeout
        assert line.strip(), intermediate.communicate(timeout=10)[1].decode()[-2000:]
        child = int(line)
        assert running(child)
        intermediate.kill()
        intermediate.wait(10)
        yield child
    finally:
        if intermediate.poll() is None:
            intermediate.kill()
            intermediate.wait(10)
        if child and running(child):
            os.kill(child, signal.SIGKILL)


async def test_a_child_started_through_it_dies_when_its_parent_is_killed() -> None:
    with grandchild_of_a_killed_process("guarded") as child:
        assert not await still_running([child]), "the child outlived the process that started it"


def test_a_child_started_without_it_outlives_its_killed_parent() -> None:
    with grandchild_of_a_killed_process("unguarded") as child:
        # Its parent is gone and reaped, and nothing else signals it: it runs on, orphaned.
        assert running(child)


def test_it_does_nothing_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prctl(*args: object, **kwargs: object) -> None:
        raise AssertionError("prctl called off Linux")

    monkeypatch.setattr(parent_death.sys, "platform", "darwin")
    monkeypatch.setattr(parent_death.ctypes, "CDLL", no_prctl)
    die_with_parent()


def test_a_signal_the_kernel_refuses_is_an_error() -> None:
    with pytest.raises(OSError, match="PR_SET_PDEATHSIG"):
        die_with_parent(1000)  # not a signal: prctl fails with EINVAL
