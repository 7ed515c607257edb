"""``voicewire.server.workers.serve``: how it fails (the working case is in
tests/cli/test_serve_cli.py, through ``voicewire serve --workers 2``)."""

from __future__ import annotations

import gc
import multiprocessing.connection
import socket
import sys
import time

import pytest

from voicewire.server.workers import listen, serve

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
