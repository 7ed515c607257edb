"""A real ``redis-server`` on a free port of 127.0.0.1, started and stopped by the caller: what
the shared-state tests and the server load benchmark run Redis with.

The Debian package provides the binary (``make redis`` installs it). Nothing is written to disk
(no RDB, no AOF) and the server dies with the process that started it
(:func:`~voicewire.testing.parent_death.die_with_parent`), so a run killed before its teardown
leaves no Redis running.

::

    from voicewire.testing.redis_server import RedisServer

    server = RedisServer(Path(tmp))  # its log goes to <tmp>/redis.log
    server.start()
    try:
        state = RedisState.from_url(server.url)
        ...
    finally:
        server.stop()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .parent_death import die_with_parent

__all__ = ["REDIS_SERVER", "RedisServer", "RedisServerError"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServerError(RuntimeError):
    """redis-server is missing, or did not come up (the message says why)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """One ``redis-server`` process; :meth:`stop`, :meth:`start`, :meth:`pause` for the tests
    that take Redis away."""

    directory: Path
    port: int = 0
    password: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers. A port of its own choosing that something
        else took since it was probed is given up for another; a restart keeps its port.

        Raises:
            RedisServerError: redis-server is not installed, or did not come up.
        """
        if not os.access(REDIS_SERVER, os.X_OK):
            raise RedisServerError(
                f"redis-server not found ({REDIS_SERVER}): the shared-state tests and the Redis "
                "benchmark need it; run `make redis` (Debian's redis-server package)"
            )
        chosen = not self.port
        for _ in range(5):
            self.port = self.port or _free_port()
            failure = self._launch()
            if failure is None:
                return
            if not (chosen and "Address already in use" in failure):
                raise RedisServerError(failure)
            self.port = 0
        raise RedisServerError(f"redis-server found no free port: {failure}")

    def _launch(self) -> str | None:
        """Run redis-server on :attr:`port`; why it did not come up, or ``None`` once it answers."""
        command = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        if self.password:
            command += ["--requirepass", self.password]
        log_path = self.directory / "redis.log"
        seen = log_path.stat().st_size if log_path.exists() else 0  # earlier runs' lines
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.process.poll() is not None:
                failure = f"redis-server exited with {self.process.returncode}: "
                self.process = None
                return failure + log_path.read_bytes()[seen:].decode(errors="replace")[-2000:]
            if time.monotonic() > deadline:
                self.stop()
                return "redis-server did not answer within 10 s"
            time.sleep(0.02)
        return None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                reply = probe.recv(64)
        except OSError:
            return False
        return reply.startswith((b"+PONG", b"-NOAUTH"))

    def stop(self) -> None:
        """Stop the server (the port stays this server's for a later :meth:`start`)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def pause(self) -> None:
        """Freeze the server (it keeps its connections and answers nothing)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
