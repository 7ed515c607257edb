"""``voicewire.server.workers.serve``: how it fails, and what a client sees while the workers
start (the working case is in tests/cli/test_serve_cli.py, through ``voicewire serve --workers
2``)."""

from __future__ import annotations

import errno
import functools
import gc
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.cli.support import free_port, running, still_running, voicewire_serve, worker_pids
from voicewire.server.workers import listen, reserve, serve

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_REUSEPORT workers: Linux"
)


def broken_factory() -> object:
    raise RuntimeError("the app cannot be built")


def slowly_exiting_broken_factory() -> object:
    """Fails as a loaded machine may show it: its pipe to the parent is closed well before the
    process is gone."""
    for held in gc.get_objects():
        if isinstance(held, multiprocessing.connection.Connection):
            held.close()
    time.sleep(1.5)
    raise RuntimeError("the app cannot be built")


def test_a_busy_port_fails_before_any_worker_starts() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError):
            serve(broken_factory, port=port, workers=2)


def test_a_worker_that_cannot_build_its_app_stops_the_server_with_a_reason() -> None:
    with pytest.raises(RuntimeError, match=r"voicewire-worker-1 did not start \(exit code 1\)"):
        serve(broken_factory, port=0, workers=2)


def test_a_worker_slow_to_exit_after_failing_is_reported_with_its_exit_code() -> None:
    with pytest.raises(RuntimeError, match=r"voicewire-worker-1 did not start \(exit code 1\)"):
        serve(slowly_exiting_broken_factory, port=0, workers=2)


def test_worker_counts_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        serve(broken_factory, workers=0)


def test_listen_with_reuse_port_shares_the_port() -> None:
    first = listen("127.0.0.1", 0, reuse_port=True)
    try:
        second = listen("127.0.0.1", first.getsockname()[1], reuse_port=True)
        second.close()
    finally:
        first.close()


def test_a_reserved_port_refuses_connections_and_plain_binds_but_not_reuse_port_listeners() -> None:
    held = reserve("127.0.0.1", 0)
    port = held.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        with socket.socket() as other, pytest.raises(OSError) as busy:
            other.bind(("127.0.0.1", port))
        assert busy.value.errno == errno.EADDRINUSE
        with listen("127.0.0.1", port, reuse_port=True) as worker:
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
            worker.accept()[0].close()
    finally:
        held.close()


async def _served(request: Request) -> PlainTextResponse:
    return PlainTextResponse("served")


def slow_factory(directory: Path) -> Starlette:
    """An app slow to build, as one loading a local model is: it leaves a file saying it is
    building, then waits for the file ``gate`` in ``directory``."""
    (directory / f"building-{os.getpid()}").touch()
    while not (directory / "gate").exists():
        time.sleep(0.01)
    return Starlette(routes=[Route("/", _served)])


def _requested(port: int) -> socket.socket | str:
    """A connection with a request sent on it, or ``"refused"``."""
    try:
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
    except ConnectionRefusedError:
        return "refused"
    client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return client


def _answer(attempt: socket.socket | str) -> str:
    """``"refused"``, ``"served"``, or how the request was lost."""
    if isinstance(attempt, str):
        return attempt
    received = b""
    with attempt:
        try:
            while chunk := attempt.recv(4096):
                received += chunk
        except ConnectionResetError:
            return "accepted, then reset unanswered"
        except TimeoutError:
            return "accepted, then hung"
    return "served" if received.endswith(b"served") else f"answered {received!r}"


class _Checked(Exception):
    """Raised from ``ready`` to stop the server once the test has checked it."""


def test_a_client_connecting_while_the_workers_build_their_apps_is_refused_or_served(
    tmp_path: Path,
) -> None:
    port = free_port()
    during_startup: list[socket.socket | str] = []

    def connect_while_the_workers_build() -> None:
        try:
            deadline = time.monotonic() + 60
            while len(list(tmp_path.glob("building-*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            during_startup.extend(_requested(port) for _ in range(20))
        finally:
            (tmp_path / "gate").touch()

    def ready(chosen: int) -> None:
        client.join()
        answers = [_answer(attempt) for attempt in during_startup]
        assert len(answers) == 20
        assert set(answers) <= {"refused", "served"}, answers
        assert _answer(_requested(chosen)) == "served"
        raise _Checked

    client = threading.Thread(target=connect_while_the_workers_build)
    client.start()
    try:
        with pytest.raises(_Checked):
            serve(functools.partial(slow_factory, tmp_path), port=port, workers=2, ready=ready)
    finally:
        (tmp_path / "gate").touch()
        client.join()


async def test_workers_stop_when_their_server_process_is_killed() -> None:
    """SIGKILL (the OOM killer) gives the server no chance to stop its workers: they notice
    their parent is gone and stop by themselves instead of serving on, unsupervised."""
    async with voicewire_serve("--model", "scripted:echo", "--workers", "2") as served:
        workers = worker_pids(served.process.pid)
        assert len(workers) == 2 and all(running(pid) for pid in workers)
        try:
            os.kill(served.process.pid, signal.SIGKILL)
            assert not await still_running(workers), "workers outlived their server"
        finally:
            for pid in workers:
                if running(pid):
                    os.kill(pid, signal.SIGKILL)
