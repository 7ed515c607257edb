"""State and sending shared by the parts of the fake Gemini Live server.

The server is split by concern into mixins on :class:`GeminiBase`: the model's turns
(:mod:`.turns`), the client's input (:mod:`.inputs`) and the server itself (listening, handshake,
setup, resumption and the controls tests call, :mod:`.server`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from websockets.exceptions import ConnectionClosed

from ..gemini_validation import validate_gemini_server
from ..script import Reply, Script
from .state import Frame, GeminiLink, GeminiSession, get_field

__all__ = ["INVALID_ARGUMENT", "GeminiBase"]

_DRAIN_TIMEOUT_S = 5.0

INVALID_ARGUMENT = "Request contains an invalid argument."
"""The reason Gemini gives with most 1007 closes."""


class GeminiBase:
    """What every part of the fake Gemini server shares: its state and how it sends."""

    script: Script
    instruction_rules: list[tuple[str, Reply]]
    latency: float
    bundle: bool
    binary_frames: bool
    vad_rms_threshold: float
    sent: list[Frame]
    violations: list[str]
    own_problems: list[str]
    undeclared_tool_calls: list[str]
    links: list[GeminiLink]
    sessions: list[GeminiSession]
    _handles: dict[str, tuple[GeminiSession, tuple[int, int]]]
    _tasks: set[asyncio.Task[None]]
    _changed: asyncio.Condition

    def __init__(self) -> None:
        self._ids: Iterator[int] = itertools.count(1)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _send(self, link: GeminiLink, frame: Mapping[str, Any]) -> None:
        """Send one server frame (binary, as Gemini does, unless ``binary_frames`` is off); the
        fake checks its own output against google-genai's types."""
        if link.closed:
            return
        text = json.dumps(frame)
        record = json.loads(text)
        problems = validate_gemini_server(record)
        self.own_problems.extend(f"{next(iter(record), '?')}: {p}" for p in problems)
        self.sent.append(record)
        data = text.encode() if self.binary_frames else text
        if self.latency > 0:
            self._delay_line(link).put_nowait((asyncio.get_running_loop().time(), data))
        else:
            try:
                await link.ws.send(data)
            except ConnectionClosed:
                link.closed = True
                raise
        await self._notify()

    def _delay_line(self, link: GeminiLink) -> asyncio.Queue[tuple[float, str | bytes]]:
        """The link's outgoing frames, each written ``latency`` seconds after it was sent, in
        order (a network between the server and the client)."""
        if link.outbox is None:
            outbox: asyncio.Queue[tuple[float, str | bytes]] = asyncio.Queue()
            link.outbox = outbox

            async def write() -> None:
                loop = asyncio.get_running_loop()
                while True:
                    sent_at, data = await outbox.get()
                    try:
                        await asyncio.sleep(max(0.0, sent_at + self.latency - loop.time()))
                        await link.ws.send(data)
                    except ConnectionClosed:
                        link.closed = True
                    finally:
                        outbox.task_done()

            link.writer = self._spawn(write())
        return link.outbox

    async def _drain(self, link: GeminiLink) -> None:
        """Wait (bounded) until the frames on the delay line were written."""
        if link.outbox is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_DRAIN_TIMEOUT_S):
                    await link.outbox.join()

    async def _close(self, link: GeminiLink, code: int, reason: str) -> None:
        """Close a link with a close frame (Gemini reports errors this way, not as events); the
        reason is cut to the 123 bytes a close frame holds, as Gemini cuts its long ones."""
        await self._drain(link)  # the close frame comes after what was sent before it
        link.closed = True
        reason = reason.encode()[:123].decode(errors="ignore")
        with contextlib.suppress(ConnectionClosed):
            await link.ws.close(code, reason)

    async def _refuse(self, link: GeminiLink, problem: str, code: int = 1007) -> None:
        """Record a client mistake and close the link as Gemini would."""
        self.violations.append(problem)
        await self._close(link, code, INVALID_ARGUMENT if code == 1007 else problem)

    def _setup_of(self, link: GeminiLink) -> Frame:
        return link.session.setup if link.session is not None else {}

    def _setup_field(self, link: GeminiLink, *path: str) -> Any:
        node: Any = self._setup_of(link)
        for key in path:
            node = get_field(node, key)
        return node

    def _resumption_enabled(self, link: GeminiLink) -> bool:
        return self._setup_field(link, "sessionResumption") is not None

    async def _issue_handle(self, link: GeminiLink) -> None:
        """A fresh resumable handle for the session's state now, when resumption was asked."""
        session = link.session
        if session is None or not self._resumption_enabled(link):
            return
        handle = self._new_id(f"handle-{session.id}")
        self._handles[handle] = (session, session.mark())
        session.handles.append(handle)
        await self._send(
            link, {"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}}
        )

    async def _not_resumable(self, link: GeminiLink) -> None:
        if self._resumption_enabled(link):
            await self._send(link, {"sessionResumptionUpdate": {"resumable": False}})

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded default is the point
    ) -> None:
        """Wait until ``predicate()`` holds, re-checked whenever a frame is received or sent or
        a link opens or closes. Raises ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)
