"""The session's link to its model: opening it, attaching it, noticing its end, and bringing it
back or giving it up (see :class:`~voicewire.session.reconnect.ReconnectPolicy`).

Kept apart from :mod:`.session`, which is what the session does with a live link (sending, the
events it handles, interruption): this is the link's life. :class:`LinkKeeping` is a mixin of
:class:`~voicewire.session.RealtimeSession` rather than an object it owns because its methods
set the session's own state (status, pending events, the reconnect task); none of them is on the
per-frame path (the session hands the link its own ``_on_event``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..protocol import (
    ClientEvent,
    ConnectOptions,
    PushConnection,
    RealtimeConnection,
    RealtimeError,
    RealtimeModel,
    RealtimeTransport,
    ResponseDone,
    ResumeConfig,
    ServerEvent,
    SessionConfig,
    SessionError,
    TransportStatus,
)
from .reconnect import replay_events

if TYPE_CHECKING:
    from ..context import Context
    from .dispatch import EventHub
    from .history import ConversationHistory
    from .reconnect import ReconnectPolicy
    from .tool_runner import ToolRunner
    from .unacked import Unacknowledged

__all__ = ["LinkKeeping"]

log = logging.getLogger("voicewire.session")


class LinkKeeping:
    """The link half of :class:`~voicewire.session.RealtimeSession`, which sets these attributes."""

    model: RealtimeModel
    transport: RealtimeTransport
    context: Context[Any]
    config: SessionConfig
    history: ConversationHistory
    reconnects: int
    _options: ConnectOptions
    _hub: EventHub
    _tools: ToolRunner
    _unacked: Unacknowledged
    _pending: list[ClientEvent]
    _refused_kinds: frozenset[str]
    _connection: RealtimeConnection | None
    _pump: asyncio.Task[None] | None
    _events_ended: asyncio.Event
    _status: TransportStatus
    _closing: bool
    _spoken: bool
    _response_open: bool
    _active_response: str | None
    _reconnect: ReconnectPolicy
    _reconnecting: asyncio.Task[None] | None
    _lost: SessionError | None
    _final_close: bool
    _gave_up: bool

    if TYPE_CHECKING:

        def _send(self, event: ClientEvent) -> None: ...
        def _on_event(self, event: ServerEvent) -> None: ...
        def _set_status(self, status: TransportStatus) -> None: ...

    def _catch_up(self) -> list[ClientEvent]:
        """What a new link hears first: the history, then what the last link never
        acknowledged (each once: an item the history holds is not sent again); what was said
        meanwhile follows. The response a drop cut off is asked for again only from a model
        that can be asked (an ElevenLabs agent answers by itself)."""
        history = self.history
        replay = replay_events(history.items, history.truncated_at, history.received_at_cut)
        owed = self._unacked.take(replay, self.config, self._pending)
        return [*replay, *(e for e in owed if e.kind not in self._refused_kinds)]

    async def _open(self) -> RealtimeConnection:
        options = replace(self._options, session_config=self.config)
        return await self.transport.connect(self.model, options)

    def _attach(self, connection: RealtimeConnection, replay: Sequence[ClientEvent]) -> None:
        """Start using ``connection``: events flow in, then ``replay`` and what was said
        meanwhile go out, in that order."""
        self._connection = connection
        self._final_close = False
        handle = getattr(connection, "resume_handle", None)
        if isinstance(handle, str) and handle:  # a voicewire server's: the next link resumes it
            self._options = replace(self._options, resume=ResumeConfig(handle))
        self._unacked.link(connection)  # what it proves delivered, if it can tell
        self._spoken = False
        self.context.session_id = connection.session_id
        self._events_ended = asyncio.Event()
        self._set_status(TransportStatus.CONNECTED)
        if isinstance(connection, PushConnection):
            # Handled as they arrive, in the task that produced them: no hop through a pump.
            connection.deliver_to(self._on_event, self._on_events_end)
        else:
            self._pump = asyncio.create_task(self._pump_events(connection), name="session-pump")
        pending, self._pending = [*replay, *self._pending], []
        for event in pending:
            try:
                self._send(event)
            except RealtimeError as exc:  # one the model cannot take: say so, send the rest
                self._hub.emit(SessionError(exc.code, f"{event.kind} not sent: {exc.message}"))

    async def _pump_events(self, connection: RealtimeConnection) -> None:
        """For connections that are only iterable: handle every event in order."""
        try:
            async for event in connection:
                self._on_event(event)
        finally:
            self._on_events_end()

    def _on_events_end(self) -> None:
        """The stream ended: the link was closed, or it dropped (after its ``connection_lost``
        error). A dropped link is brought back when the policy allows, else the session is
        disconnected; so is a link whose last word was another fatal error (the agent ended the
        call, the model refused a request): a new link would end the same way."""
        self._events_ended.set()
        if self._status is not TransportStatus.CONNECTED or self._closing:
            return
        self._link_lost()
        if self._reconnect.attempts and not self._final_close:
            self._set_status(TransportStatus.RECONNECTING)
            self._reconnecting = asyncio.create_task(self._bring_back(), name="session-reconnect")
        else:
            self._give_up()

    def _link_lost(self) -> None:
        """What ended with the link: its response (the listener hears the end of it) and the
        tools it asked for (their cancellations go to the next link, after the replay)."""
        if self._response_open:
            self._response_open = False
            self._hub.emit(ResponseDone(self._active_response, "failed", reason="connection_lost"))
        self._tools.cancel_all()

    async def _bring_back(self) -> None:
        for attempt, delay in enumerate(self._reconnect.delays(), start=1):
            await asyncio.sleep(delay)
            try:
                connection = await self._open()
            except Exception as exc:
                log.warning("reconnect attempt %d failed: %s: %s", attempt, type(exc).__name__, exc)
                continue
            self._lost = None
            self.reconnects += 1
            log.info("reconnected after %d attempt(s)", attempt)
            self._attach(connection, self._catch_up())
            return
        self._give_up()

    def _give_up(self) -> None:
        """One fatal ``connection_lost`` error (the link's own, if it left one), then
        ``disconnected``; after a final close only ``disconnected`` (its error was told)."""
        lost, self._lost = self._lost, None
        attempts = 0 if self._final_close else self._reconnect.attempts
        if attempts:
            why = lost.message if lost is not None else "the model closed the link"
            lost = SessionError(
                "connection_lost", f"{why}; {attempts} attempts to reconnect failed", fatal=True
            )
        self._gave_up = True
        if lost is not None:
            self._hub.emit(lost)
        self._set_status(TransportStatus.DISCONNECTED)
