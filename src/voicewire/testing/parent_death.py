"""A process a test starts dies with the process that started it.

A test run can be killed before any teardown runs: a CI timeout, Ctrl-C twice, the OOM killer.
Every server it started (``redis-server``, ``voicewire serve`` and its workers, a fake provider)
would then be left running, holding its port and its CPU, and the next run fails on a busy
port or is slowed by them. :func:`die_with_parent`, run in the child before it starts
(``preexec_fn``), asks Linux to send the child a signal (SIGTERM: a server drains and stops its
own children) as soon as its parent dies, however it dies::

    subprocess.Popen(command, preexec_fn=die_with_parent)
    await asyncio.create_subprocess_exec(*command, preexec_fn=die_with_parent)

It is Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``), so it
is a no-op elsewhere. Linux counts the *thread* that started the child as its parent: start it
from a thread that lives as long as the child (the main thread, the event loop's), or the child
is signalled when that thread ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Have Linux send this process ``signum`` when its parent dies (a no-op off Linux).

    Meant as ``preexec_fn`` (run in the child between ``fork`` and ``exec``); it may also be
    called by a process itself. Raises :class:`OSError` when the kernel refuses.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
