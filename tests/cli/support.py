"""Server processes as the tests run them: ``voicewire serve`` (or ``demo``) on a free port of
127.0.0.1, and any other Python process of the repository, each always stopped when its block
ends, the test failed or not.

::

    from tests.cli.support import voicewire_serve

    async with voicewire_serve("--model", "scripted:echo", "--workers", "2") as served:
        ...  # served.url, served.port, served.ready (the line it printed), served.process
    assert "secret" not in served.output  # all it printed, collected when it stopped

A process is stopped with SIGTERM (a server drains) and killed, with its worker processes, when
it is still running after a timeout: no test leaves a server behind. One that was stopped by its
test (``os.kill``, or SIGTERM then :meth:`Running.exited`) is only waited for.
A test run killed before its teardown (a CI timeout, Ctrl-C twice, the OOM killer) leaves none
either: each process gets SIGTERM when the run dies
(:func:`~voicewire.testing.parent_death.die_with_parent`), and ``voicewire serve``'s workers
stop with their server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from voicewire.testing.parent_death import die_with_parent

__all__ = [
    "ROOT",
    "Running",
    "alive",
    "children",
    "free_port",
    "killed_after_starting",
    "python_process",
    "running",
    "still_running",
    "stopped",
    "until_listening",
    "voicewire_serve",
    "worker_pids",
]

ROOT = Path(__file__).resolve().parents[2]
"""The repository: where the processes run, so that ``tests.…`` modules import."""

STOP_TIMEOUT_S = 20.0
"""How long a stopped process may drain before it is killed."""


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_pids(pid: int) -> list[int]:
    """The worker processes of ``voicewire serve --workers N`` running as ``pid``."""
    return [child for child in children(pid) if "spawn_main" in _cmdline(child)]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def running(pid: int) -> bool:
    """Whether ``pid`` runs: alive and not a zombie (one reparented to a PID 1 that does not
    reap may stay a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def still_running(pids: list[int], within: float = 20) -> list[int]:
    """Those of ``pids`` still running after waiting up to ``within`` seconds for all to stop
    (the bound of a wait, not a timing asserted)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while any(running(pid) for pid in pids):  # noqa: ASYNC110 - /proc has no event
                await asyncio.sleep(0.02)
    return [pid for pid in pids if running(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@contextmanager
def killed_after_starting(*argv: str) -> Iterator[list[int]]:
    """Run ``python *argv`` in :data:`ROOT`, which starts processes and prints their pids on one
    line; SIGKILL it once it has (as a test run or a benchmark is killed, no teardown run) and
    yield those pids. Any still running when the block ends is killed.

    Not asyncio's subprocess: its ``wait()`` also waits for the pipes to close, and a process
    that outlived its parent may hold the parent's stdout.
    """
    with tempfile.TemporaryFile() as errors:
        parent = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors
        )
        started: list[int] = []
        try:
            assert parent.stdout is not None
            line = parent.stdout.readline()  # bounded by the test's timeout
            errors.seek(0)
            assert line.strip(), errors.read().decode(errors="replace")[-2000:]
            started = [int(pid) for pid in line.split()]
            assert started and all(running(pid) for pid in started)
            parent.kill()
            parent.wait()
            yield started
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()
            for pid in started:
                if running(pid):
                    os.kill(pid, signal.SIGKILL)
            if parent.stdout is not None:
                parent.stdout.close()


async def stopped(
    process: asyncio.subprocess.Process,
    timeout: float = STOP_TIMEOUT_S,  # noqa: ASYNC109
) -> tuple[bytes, bytes]:
    """Stop a process (SIGTERM: a server drains) and collect its output. One still running
    after ``timeout`` is killed with its children (workers), then the timeout is raised."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        return await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        for pid in [*children(process.pid), process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await process.wait()
        raise


async def until_listening(port: int, within: float = 30) -> None:
    """Wait until ``port`` on 127.0.0.1 takes connections (bounded)."""
    async with asyncio.timeout(within):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


@dataclass
class Running:
    """A process started by :func:`python_process` or :func:`voicewire_serve`; its output once
    it has stopped."""

    process: asyncio.subprocess.Process
    port: int = 0
    """Where ``voicewire serve`` listens."""
    ready: str = ""
    """The line ``voicewire serve`` printed once it served (its URL)."""
    out: bytes = b""
    err: bytes = b""
    _collected: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        """Everything it printed (the ready line, stdout, stderr), once stopped."""
        return self.ready + (self.out + self.err).decode(errors="replace")

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:  # noqa: ASYNC109
        """Stop it (see :func:`stopped`) and keep its output; a process already gone is only
        waited for."""
        if not self._collected:
            self._collected = True
            self.out, self.err = await stopped(self.process, timeout)

    async def exited(self, within: float) -> None:
        """Wait until it exits by itself (after the test's own signal) and keep its output."""
        self.out, self.err = await asyncio.wait_for(self.process.communicate(), within)
        self._collected = True


@asynccontextmanager
async def python_process(*argv: str, env: dict[str, str] | None = None) -> AsyncIterator[Running]:
    """``python *argv`` in :data:`ROOT`, ``env`` added to this environment, its output piped;
    stopped when the block ends, or when this process dies. A failing block's error is not
    hidden by a slow stop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,  # a killed test run leaves no server behind
    )
    running = Running(process)
    try:
        yield running
    except BaseException:
        with contextlib.suppress(TimeoutError):  # killed all the same
            await running.stop()
        raise
    await running.stop()


@asynccontextmanager
async def voicewire_serve(
    *options: str,
    command: str = "serve",
    env: dict[str, str] | None = None,
    within: float = 40,
) -> AsyncIterator[Running]:
    """``voicewire <command> --port <free port> *options``, yielded once it has printed its URL
    (within ``within`` seconds: loading a model takes a while) and takes connections (a single
    process prints it just before it listens); stopped when the block ends."""
    port = free_port()
    argv = ("-m", "voicewire.cli", command, "--port", str(port), *options)
    async with python_process(*argv, env=env) as served:
        assert served.process.stdout is not None
        line = await asyncio.wait_for(served.process.stdout.readline(), within)
        served.port, served.ready = port, line.decode(errors="replace")
        assert f"{served.url}/" in served.ready, served.ready
        await until_listening(port)
        yield served
