"""What every RealtimeConnection has in common: a status with listeners, and one ordered stream of
server events that ends when the connection does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from ..protocol import ServerEvent, StatusListener, TransportStatus

log = logging.getLogger("voicewire.connection")

_END = object()


class EventStream:
    def __init__(self, status: TransportStatus = TransportStatus.CONNECTED) -> None:
        self._status = status
        self._listeners: list[StatusListener] = []
        self._queue: asyncio.Queue[ServerEvent | object] = asyncio.Queue()

    @property
    def status(self) -> TransportStatus:
        return self._status

    def set_status(self, status: TransportStatus) -> None:
        """Change the status and tell every listener; a listener that raises is logged."""
        if status is self._status:
            return
        self._status = status
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("status listener failed")

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def put(self, event: ServerEvent) -> None:
        self._queue.put_nowait(event)

    def end(self) -> None:
        """No more events: every iteration, current or later, finishes after what is queued."""
        self._queue.put_nowait(_END)

    async def events(self) -> AsyncIterator[ServerEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # later iterations end too
                return
            yield item  # type: ignore[misc]
