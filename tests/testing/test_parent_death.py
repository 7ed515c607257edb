"""die_with_parent: a process started through it is gone once the process that started it is
SIGKILLed (as a test run killed by a CI timeout or the OOM killer), and one started without it
outlives it (what the helper is for)."""

from __future__ import annotations

import sys

import pytest

from tests.cli.support import killed_after_starting, running, still_running
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


async def test_a_child_started_through_it_dies_when_its_parent_is_killed() -> None:
    with killed_after_starting("-c", INTERMEDIATE, "guarded") as started:
        assert not await still_running(started), "the child outlived the process that started it"


def test_a_child_started_without_it_outlives_its_killed_parent() -> None:
    with killed_after_starting("-c", INTERMEDIATE, "unguarded") as started:
        # Its parent is gone and reaped, and nothing else signals it: it runs on, orphaned.
        assert running(started[0])


def test_it_does_nothing_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prctl(*args: object, **kwargs: object) -> None:
        raise AssertionError("prctl called off Linux")

    monkeypatch.setattr(parent_death.sys, "platform", "darwin")
    monkeypatch.setattr(parent_death.ctypes, "CDLL", no_prctl)
    die_with_parent()


def test_a_signal_the_kernel_refuses_is_an_error() -> None:
    with pytest.raises(OSError, match="PR_SET_PDEATHSIG"):
        die_with_parent(1000)  # not a signal: prctl fails with EINVAL
