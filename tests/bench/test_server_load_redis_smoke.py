"""The server load benchmark's two-instance run on Redis, end to end with a few sessions: no
frame lost, and Redis written per conversation item, never per audio frame (timings are not
asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from voicewire.testing.parent_death import die_with_parent

from . import test_server_load_smoke as smoke

SCRIPT, _block = smoke.SCRIPT, smoke._block
bench = smoke.bench  # the fixture: the benchmark script as a module

SESSIONS = 4
FRAMES = 50  # per session: one second of 20 ms frames
_MS = r"-?\d+\.\d\d ms"


@pytest.mark.timeout(180)
def test_two_instances_on_redis_write_per_item_and_lose_no_frame() -> None:
    options = ("--sessions", str(SESSIONS), "--seconds", "1", "--workers", "", "--redis")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *options],
        capture_output=True,
        text=True,
        timeout=170,
        preexec_fn=die_with_parent,  # a killed test run stops the benchmark and its servers
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(ScriptedModel echo, 1 worker)" not in out  # --workers "": the instances only
    for backend in ("in memory", "Redis"):
        block = _block(out, f"voicewire (ScriptedModel echo, 2 instances, {backend})")
        assert re.search(rf"^  sessions held: +{SESSIONS}/{SESSIONS}$", block, re.M), block
        assert re.search(rf"^  frames sent: +{SESSIONS * FRAMES}$", block, re.M), block
        assert re.search(r"^  frames lost: +0$", block, re.MULTILINE), block
        stopped = r"^  servers stopped: +yes \(exit code -?\d+\), yes \(exit code -?\d+\)$"
        assert re.search(stopped, block, re.MULTILINE), block
        assert "failed sessions" not in block and "corrupt" not in block, block
        assert ("Redis streaming" in block) == (backend == "Redis"), block

    redis = _block(out, "voicewire (ScriptedModel echo, 2 instances, Redis)")
    # Each session's config is written once as it opens, and its one reply item (the echo opens
    # it with the first frame) once while streaming: one script call per session in each phase,
    # whatever the number of frames.
    opens = re.search(r"^  Redis at the opens: +(\d+) commands, (\d+) script calls", redis, re.M)
    assert opens and int(opens[2]) == SESSIONS, redis
    streaming = re.search(
        r"^  Redis streaming: +(\d+) commands, (\d+) script calls \((\d+\.\d+) commands per "
        r"frame\)$",
        redis,
        re.MULTILINE,
    )
    assert streaming, redis
    commands, scripts = int(streaming[1]), int(streaming[2])
    assert scripts == SESSIONS, redis
    assert 0 < commands < SESSIONS * FRAMES, redis
    assert float(streaming[3]) == pytest.approx(commands / (SESSIONS * FRAMES), abs=1e-3)
    # Every session's conversation is in Redis, its reply item too: the run's and the two
    # warm-ups'.
    kept = rf"^  conversations kept: +{SESSIONS + 2} in Redis with {SESSIONS + 2} items "
    assert re.search(kept, redis, re.MULTILINE), redis

    added = _block(out, "added latency of Redis (2 instances: Redis - in memory)")
    assert re.search(rf"^  p99 added: +{_MS}$", added, re.MULTILINE), added
    for frames in ("first 5 frames", "later frames"):
        split = rf"^  {frames} p99: +{_MS} with Redis, {_MS} in memory"
        assert re.search(split, added, re.MULTILINE), added
    goals = _block(out, "goals (Redis write-through, 2 instances)")
    assert re.search(r"^  Redis p99 added <= 5 ms: +(NOT )?met \(", goals, re.M), goals
    lost = r"^  0 frames lost: +met \(0 lost with Redis, 0 in memory\)$"
    assert re.search(lost, goals, re.MULTILINE), goals
    per_item = rf"^  Redis written per item, not per frame: met \({SESSIONS} writes and "
    assert re.search(per_item, goals, re.MULTILINE), goals


def test_a_write_per_frame_fails_the_goal(bench: Any) -> None:
    """What the goal says of a server that wrote Redis on every frame (made-up counts)."""

    def measured(streaming: tuple[int, int] | None) -> Any:
        """One session of 50 frames; ``streaming``: Redis's (commands, script calls) meanwhile,
        ``None`` for a run in memory."""
        count = bench.RedisCount
        redis = None
        if streaming is not None:
            redis = bench.RedisActivity(count(4, 1), count(*streaming), count(0, 0), 0, 1, 1, 1)
        return bench.Measurement(
            bench.instances_target([1, 2], None, "Redis"),
            1,
            1.0,
            [bench.SessionResult(connected=True, held=True, sent=50, echoed=50)],
            *(0, 0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0),
            redis,
        )

    goal = "  Redis written per item, not per frame: "
    memory = measured(None)
    assert f"{goal}met (1 writes and 9 commands" in "\n".join(
        bench.redis_summary(memory, measured((9, 1)))
    )
    for per_frame in ((450, 50), (60, 1)):  # a write per frame; a command per frame
        lines = bench.redis_summary(memory, measured(per_frame))
        assert f"{goal}NOT met" in "\n".join(lines), lines
