"""Fan-out of session events to callbacks and async iterators."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..mailbox import Mailbox
from .events import ALIASES, SessionEvent

log = logging.getLogger("voicewire.session")

Handler = Callable[[Any], None] | Callable[[Any], Awaitable[None]]

STREAM_LIMIT = 20_000
"""Events kept for ``async for`` while nobody reads (about 6 minutes of 20 ms audio deltas)."""


class EventHub:
    """Delivers every event to the handlers registered for its kind and to one ordered stream.

    Every ``async for event in session`` loop reads the same stream, so a loop that starts late,
    or a second loop after a first one ended, misses nothing in between (use :meth:`on` for
    fan-out to several consumers). While nobody reads, the stream keeps the latest
    :data:`STREAM_LIMIT` events. A handler that raises is logged and does not disturb the others.
    """

    def __init__(self, *, stream: bool = True) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._targets: dict[str, tuple[Handler, ...]] = {}  # per kind, with "*"; cleared by on()
        self._stream: Mailbox[SessionEvent] | None = (
            Mailbox(maxlen=STREAM_LIMIT) if stream else None
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def on(self, kind: str, handler: Handler) -> Callable[[], None]:
        kinds = ALIASES.get(kind, (kind,))
        for name in kinds:
            self._handlers.setdefault(name, []).append(handler)
        self._targets.clear()

        def off() -> None:
            for name in kinds:
                with contextlib.suppress(ValueError):
                    self._handlers.get(name, []).remove(handler)
            self._targets.clear()

        return off

    def emit(self, event: SessionEvent) -> None:
        if self._handlers:
            self._call_handlers(event)
        stream = self._stream
        if stream is not None:
            if stream.full:
                log.warning("nobody reads the session's events: dropping the oldest")
            stream.put(event)

    def _call_handlers(self, event: SessionEvent) -> None:
        kind = event.kind
        targets = self._targets.get(kind)
        if targets is None:
            handlers = self._handlers
            targets = self._targets[kind] = (*handlers.get(kind, ()), *handlers.get("*", ()))
        for handler in targets:
            try:
                result = handler(event)
            except Exception:
                log.exception("handler for %s failed", event.kind)
                continue
            if result is not None and inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("async handler failed", exc_info=task.exception())

    def iterate(self) -> AsyncIterator[SessionEvent]:
        if self._stream is None:
            raise RuntimeError(
                "this session keeps no event stream (stream_events=False): use session.on()"
            )
        return aiter(self._stream)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        for task in list(self._tasks):
            task.cancel()
