"""Serving one app from several processes on one port, so that a server uses every core.

One Python process relays about 10 000 audio frames a second before its core is full (200 sessions
of 20 ms frames). :func:`serve` starts ``workers`` uvicorn processes, each with its own listening
socket bound to the same port with ``SO_REUSEPORT``: the kernel spreads new connections over them
evenly (a socket shared by all, as ``uvicorn --workers`` does, leaves the balance to whichever
process wakes first). Each worker builds its app by calling ``factory()``; give the apps the same
token ``secret`` (``create_app(secret=...)``), or a token minted by one worker fails on another.
A token's single use and the rate limits are counted per worker process, unless the apps share a
Redis (``create_app(state=RedisState.from_url(...))``: :mod:`voicewire.server.state`).

``SO_REUSEPORT`` with this meaning is Linux's (3.9 and later); elsewhere :func:`serve` refuses
more than one worker.

While the workers build their apps (seconds, with local models), the parent holds the port
(:func:`reserve`) without listening: a client connecting then is refused and can retry, where a
listening placeholder would take its share of the connections and serve none.

Each worker runs :func:`~voicewire.server.http_limits.uvicorn_server` (connection limits, and a
drain on SIGTERM: :mod:`voicewire.server.drain`). A SIGTERM or SIGINT to the parent is passed on
to the workers as SIGTERM, so each drains its sessions; the parent waits ``drain_timeout`` plus
:data:`STOP_TIMEOUT` for them before it kills what is left.
A parent that dies without stopping them (SIGKILL, the OOM killer) leaves no worker serving on
unsupervised: each watches its parent and, once it is gone, drains and stops as on SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from types import FrameType
from typing import Any

from .http_limits import ServeOptions, uvicorn_server

__all__ = ["AppFactory", "listen", "reserve", "serve"]

log = logging.getLogger("voicewire.server")

AppFactory = Callable[[], Any]
"""A picklable callable returning an ASGI app (a module-level function, or a
:func:`functools.partial` of one), called once in each worker."""

START_TIMEOUT = 300.0  # a worker builds its app first: loading a local model takes a while
STOP_TIMEOUT = 10.0


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket (``port=0``: the kernel picks one)."""
    return _bound(host, port, reuse_port=reuse_port, backlog=2048)


def reserve(host: str, port: int) -> socket.socket:
    """``host:port`` held for :func:`listen` ``(reuse_port=True)`` sockets, taking no connections.

    Bound with ``SO_REUSEPORT`` but not listening: a busy port fails here, ``port=0`` picks the
    port, and neither the kernel's autobind nor a plain ``bind`` takes it, while sockets with
    ``SO_REUSEPORT`` may still bind it. (A socket with ``SO_REUSEADDR`` may bind it too, as any
    port no one listens on, but of it and the workers, whichever listens second fails.) The
    kernel hands connections only to listening sockets, so until one listens a client is
    refused (it can retry) instead of queued where nothing accepts it.
    """
    return _bound(host, port, reuse_port=True, backlog=None)


def _bound(host: str, port: int, *, reuse_port: bool, backlog: int | None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(
    factory: AppFactory,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "warning",
    loop: str = "auto",
    ready: Callable[[int], None] | None = None,
    options: ServeOptions | None = None,
    drain_timeout: float = 0.0,
) -> None:
    """Serve ``factory()``'s app on ``host:port`` from ``workers`` processes until interrupted.

    ``ready(port)`` is called once every worker listens (with the port picked when ``port`` is
    0). ``loop`` is uvicorn's (``auto``: uvloop when installed). Raises :class:`OSError` when
    the port cannot be bound, and :class:`RuntimeError` when a worker stops on its own (the
    others are stopped too). Call it from the main thread: with several workers it handles
    SIGINT and SIGTERM (it stops the workers) until it returns. ``options``: the connection
    limits; ``drain_timeout``: the apps' (the workers get that long, and :data:`STOP_TIMEOUT`
    more, to drain and stop).
    """
    options = options or ServeOptions()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers > 1 and not (sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")):
        raise RuntimeError("more than one worker needs Linux's SO_REUSEPORT")
    if workers == 1:
        app = factory()
        sock = listen(host, port, reuse_port=False)
        if ready is not None:
            ready(sock.getsockname()[1])
        _run(app, sock, log_level, loop, options)
        return
    # Bound first here, so that a busy port fails at once and port 0 becomes one port for all;
    # not listening, or it would take its share of connections while the workers load their
    # apps, and none of them would be served.
    probe = reserve(host, port)
    chosen = probe.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    pipes: list[Connection] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    for sig in previous:
        signal.signal(sig, stop)
    try:
        for index in range(workers):
            parent, child = context.Pipe(duplex=False)
            worker = context.Process(
                target=_worker_main,
                args=(factory, host, chosen, log_level, loop, child, options),
                name=f"voicewire-worker-{index + 1}",
            )
            worker.start()
            child.close()
            processes.append(worker)
            pipes.append(parent)
        for pipe, started in zip(pipes, processes, strict=True):
            woke = wait([pipe, started.sentinel], START_TIMEOUT)
            try:
                listening = pipe.poll() and pipe.recv() == "listening"
            except EOFError:  # it exited before saying so
                listening = False
            if not listening:
                # Woken without "listening", it is on its way out (its pipe can close a while
                # before it is gone on a loaded machine): its exit code says why.
                started.join(STOP_TIMEOUT if woke else 0)
                why = "timed out" if started.is_alive() else f"exit code {started.exitcode}"
                raise RuntimeError(f"{started.name} did not start ({why})")
        probe.close()
        if ready is not None:
            ready(chosen)
        wait([p.sentinel for p in processes])
        if not stopping:
            died = [p for p in processes if not p.is_alive()]
            raise RuntimeError(
                ", ".join(f"{p.name} stopped (exit code {p.exitcode})" for p in died)
            )
    finally:
        probe.close()
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(STOP_TIMEOUT + drain_timeout + options.graceful_timeout)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker_main(
    factory: AppFactory,
    host: str,
    port: int,
    log_level: str,
    loop: str,
    started: Connection,
    options: ServeOptions,
) -> None:
    _stop_when_parent_dies()
    app = factory()  # first: a slow app (a local model loading) is not yet taking connections
    sock = listen(host, port, reuse_port=True)
    started.send("listening")
    started.close()
    with contextlib.suppress(KeyboardInterrupt):
        _run(app, sock, log_level, loop, options)  # drains on SIGTERM, stops on SIGINT


def _stop_when_parent_dies() -> None:
    """SIGTERM to this worker once the process that started it is gone: the end of the pipe it
    holds closes when it dies, however it dies."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="voicewire-parent-watch", daemon=True).start()


def _run(app: Any, sock: socket.socket, log_level: str, loop: str, options: ServeOptions) -> None:
    uvicorn_server(app, options, log_level=log_level, loop=loop, lifespan="auto").run(
        sockets=[sock]
    )
