"""``GET /healthz`` and ``GET /readyz``: is the process alive, and should it get new sessions.

Orchestrators and load balancers ask two different questions. ``/healthz`` (liveness) answers
200 as long as the process serves HTTP at all: restarting it would not help otherwise.
``/readyz`` (readiness) answers 200 only when a new session would be served well: the app's
model is loaded (the app exists only once it is), every readiness check passes (a configured
state backend is reachable), and the instance is not draining; otherwise 503, so the balancer
sends new callers elsewhere while the process keeps its current ones. Both bodies are JSON and
name each check (``"ok"`` or why not); a check's failure is named by its exception type only,
never its message (a connection error may quote a URL with a password).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["CHECK_TIMEOUT_S", "Readiness", "ReadyCheck", "healthz"]

log = logging.getLogger("voicewire.server")

ReadyCheck = Callable[[], Awaitable[object]]
"""A readiness check: passes unless it raises (or returns ``False``)."""
CHECK_TIMEOUT_S: Final = 2.0
"""A check slower than this fails: a probe must get an answer in time."""
_NO_STORE: Final = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    """``GET /healthz``: 200 while the process serves HTTP."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


class Readiness:
    """Whether the app should get new sessions (``app.state.voicewire.readiness``).

    Attributes:
        draining: set by the drain; the app is never ready again once it is.
    """

    def __init__(self) -> None:
        self.draining = False
        self._checks: dict[str, ReadyCheck] = {}

    def add_check(self, name: str, check: ReadyCheck) -> None:
        """Make readiness depend on ``check`` as well (a state backend's ping, say)."""
        self._checks[name] = check

    async def report(self) -> tuple[bool, dict[str, str]]:
        """Whether the app is ready, and each check's answer."""
        checks = {"model": "ok", "draining": "yes" if self.draining else "no"}
        ready = not self.draining
        for name, check in self._checks.items():
            answer = await _run(check)
            checks[name] = answer
            ready = ready and answer == "ok"
        return ready, checks

    async def readyz(self, request: Request) -> Response:
        """``GET /readyz``: 200 when ready, else 503 (the body says which check failed)."""
        ready, checks = await self.report()
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers=_NO_STORE,
        )


async def _run(check: ReadyCheck) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            passed = await check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        log.warning("a readiness check failed: %s", type(exc).__name__)
        return f"failed ({type(exc).__name__})"
    return "failed" if passed is False else "ok"
