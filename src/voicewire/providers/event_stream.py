"""What every RealtimeConnection has in common: a status with listeners, and one ordered stream of
server events that ends when the connection does.

The stream is read either by iterating it (``async for``, one task hop per event) or, once a
consumer calls :meth:`EventStream.deliver_to`, by calling that consumer as each event is put. The
second is what :class:`~voicewire.session.RealtimeSession` does: a relayed audio frame then costs
no task switch between the model's connection and the session.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

from ..mailbox import Mailbox
from ..protocol import ServerEvent, StatusListener, TransportStatus

log = logging.getLogger("voicewire.connection")


class EventStream:
    def __init__(self, status: TransportStatus = TransportStatus.CONNECTED) -> None:
        self._status = status
        self._listeners: list[StatusListener] = []
        self._events: Mailbox[ServerEvent] = Mailbox()
        self._on_event: Callable[[ServerEvent], None] | None = None
        self._on_end: Callable[[], None] | None = None
        self._pushed: deque[ServerEvent] = deque()
        self._delivering = False
        self._ended = False

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
        on_event = self._on_event
        if on_event is None:
            self._events.put(event)
        elif self._delivering or self._pushed:
            self._pushed.append(event)  # after what is queued, never nested
            self._deliver()
        else:  # the commonest case (every audio frame): straight to the consumer
            self._delivering = True
            try:
                on_event(event)
            except Exception:
                log.exception("the event consumer failed")
            finally:
                self._delivering = False
            if self._pushed or self._ended:  # put, or the stream ended, while on_event ran
                self._deliver()

    def end(self) -> None:
        """No more events: every iteration, current or later, finishes after what is queued."""
        self._ended = True
        self._events.close()
        if self._on_event is not None:
            self._deliver()

    def deliver_to(
        self, on_event: Callable[[ServerEvent], None], on_end: Callable[[], None]
    ) -> None:
        """Push events instead of queueing them: ``on_event(event)`` is called for each, in
        order, from within :meth:`put` (what was queued before comes first), and ``on_end()``
        once after the last. Events put while ``on_event`` runs (a consumer that sends to an
        in-process model that answers at once) are delivered after it returns, never nested. An
        exception from a callback is logged and does not reach whoever put the event."""
        if self._on_event is not None:
            raise RuntimeError("this connection's events are already delivered to a consumer")
        self._on_event, self._on_end = on_event, on_end
        while len(self._events):
            self._pushed.append(self._events.take())
        self._deliver()

    def _deliver(self) -> None:
        if self._delivering:
            return  # the delivery loop further up the stack takes it
        on_event, pushed = self._on_event, self._pushed
        assert on_event is not None
        self._delivering = True
        try:
            while pushed:
                try:
                    on_event(pushed.popleft())
                except Exception:
                    log.exception("the event consumer failed")
            if self._ended and self._on_end is not None:
                on_end, self._on_end = self._on_end, None
                try:
                    on_end()
                except Exception:
                    log.exception("the event consumer's end callback failed")
        finally:
            self._delivering = False

    def events(self) -> AsyncIterator[ServerEvent]:
        return aiter(self._events)


class StreamConnection:
    """What an :class:`EventStream` answers for a connection built on one: ``status``,
    ``on_status``, ``async for`` and :meth:`deliver_to` (so that it is a
    :class:`~voicewire.protocol.PushConnection`). The connection sets ``self._stream``."""

    _stream: EventStream

    @property
    def status(self) -> TransportStatus:
        return self._stream.status

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        return self._stream.on_status(listener)

    def __aiter__(self) -> AsyncIterator[ServerEvent]:
        return self._stream.events()

    def deliver_to(
        self, on_event: Callable[[ServerEvent], None], on_end: Callable[[], None]
    ) -> None:
        self._stream.deliver_to(on_event, on_end)
