"""Fan-out of session events to callbacks and async iterators."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .events import ALIASES, SessionEvent

log = logging.getLogger("voicewire.session")

Handler = Callable[[Any], None] | Callable[[Any], Awaitable[None]]

BACKLOG = 2000
"""Events kept for the first iterator if it attaches late (e.g. after ``async with``)."""


class EventHub:
    """Delivers every event to the handlers registered for its kind and to every iterator.

    Events that arrive before anyone iterates are kept (up to :data:`BACKLOG`) and handed to the
    first iterator, so ``async with session: ... async for event in session`` sees
    ``session.created`` too. A handler that raises is logged and does not disturb the others.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._queues: list[asyncio.Queue[SessionEvent | None]] = []
        self._backlog: deque[SessionEvent] | None = deque(maxlen=BACKLOG)
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    def on(self, kind: str, handler: Handler) -> Callable[[], None]:
        kinds = ALIASES.get(kind, (kind,))
        for name in kinds:
            self._handlers.setdefault(name, []).append(handler)

        def off() -> None:
            for name in kinds:
                with contextlib.suppress(ValueError):
                    self._handlers.get(name, []).remove(handler)

        return off

    def emit(self, event: SessionEvent) -> None:
        for handler in (*self._handlers.get(event.kind, ()), *self._handlers.get("*", ())):
            try:
                result = handler(event)
            except Exception:
                log.exception("handler for %s failed", event.kind)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._handler_done)
        if self._backlog is not None:
            self._backlog.append(event)
        for queue in self._queues:
            queue.put_nowait(event)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("async handler failed", exc_info=task.exception())

    async def iterate(self) -> AsyncIterator[SessionEvent]:
        queue: asyncio.Queue[SessionEvent | None] = asyncio.Queue()
        if self._backlog is not None:
            for past in self._backlog:
                queue.put_nowait(past)
            self._backlog = None
        if self._closed:
            queue.put_nowait(None)
        self._queues.append(queue)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            with contextlib.suppress(ValueError):
                self._queues.remove(queue)

    def close(self) -> None:
        self._closed = True
        for queue in self._queues:
            queue.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
