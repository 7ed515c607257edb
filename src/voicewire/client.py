"""``RealtimeClient``: the reference's ``useRealtime`` return value, for Python apps.

``status``, ``connect(credential)``, ``disconnect()``, ``muted``, ``mute()``, ``unmute()`` and
``send_message(text)`` — the seed's ``UseRealtimeReturn`` — for desktop apps, TUIs and notebooks.
Each ``connect`` starts a fresh :class:`RealtimeSession`; what a session that was already
disconnected still emits is ignored, so a late event can never leak into the next conversation.

A session brings a dropped link back by itself (``reconnecting``), resuming a voicewire server's
session with its handle. A credential may not open a second link (a single-use token is spent by
the first, a short-lived one expires): given ``get_credential``, every link after the first asks
it for a credential of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from .agent import RealtimeAgent
from .protocol import (
    ConnectOptions,
    CredentialExpiredError,
    CredentialInput,
    RealtimeChannel,
    RealtimeConnection,
    RealtimeModel,
    TransportStatus,
    credential_from_json,
)
from .session import RealtimeSession, ReconnectPolicy, SessionEvent, StatusChanged
from .session.dispatch import EventHub, Handler

log = logging.getLogger("voicewire.client")

StatusCallback = Callable[[TransportStatus], None]
CredentialSource = Callable[[], Awaitable[CredentialInput]]
"""Fetches a fresh credential (from your credential endpoint, say), in any form ``connect``
takes."""


_MIRRORED = frozenset({TransportStatus.RECONNECTING, TransportStatus.CONNECTED})
"""Statuses of the live session that the client takes on as they come."""


class FreshCredentials:
    """A transport that dials every link after the first with a credential of its own, fetched
    from ``get_credential`` (the first link uses the credential the session was given)."""

    handles_audio = False

    def __init__(self, get_credential: CredentialSource) -> None:
        self._get_credential = get_credential
        self._dialled = False

    async def connect(
        self, model: RealtimeModel, options: ConnectOptions | None = None
    ) -> RealtimeConnection:
        options = options or ConnectOptions()
        if self._dialled:  # a reconnect: the last credential may be spent or expired
            fresh = credential_from_json(await self._get_credential())
            options = replace(options, credential=fresh)
        connection = await model.connect(options)
        self._dialled = True
        return connection


class RealtimeClient:
    """Connects an agent to a model on demand; one live session at a time.

    ``channel`` is a channel object reused by every session, or a zero-argument factory that
    makes a new one per connect (a sound card stream, say).
    """

    def __init__(
        self,
        agent: RealtimeAgent,
        model: RealtimeModel | None = None,
        *,
        channel: RealtimeChannel | Callable[[], RealtimeChannel] | None = None,
        context: Any = None,
        connect_options: ConnectOptions | None = None,
        reconnect: ReconnectPolicy | None = None,
        get_credential: CredentialSource | None = None,
    ) -> None:
        """``reconnect`` is each session's policy for a dropped link (see
        :class:`~voicewire.session.ReconnectPolicy`); meanwhile ``status`` is ``reconnecting``,
        and ``disconnected`` once the session gives up, or at once when the server closed the
        session for good (a ``session_ended`` or ``policy_violation`` error: see
        :mod:`voicewire.openai_wire.close_codes`). ``get_credential`` fetches a credential for
        each reconnect, and for a ``connect()`` given none."""
        self.agent = agent
        self._get_credential = get_credential
        self._reconnect = reconnect
        self.model = model
        self._channel = channel
        self._context = context
        self._options = connect_options or ConnectOptions()
        self._status = TransportStatus.DISCONNECTED
        self._muted = False
        self._session: RealtimeSession | None = None
        self._generation = 0
        self._connecting: asyncio.Task[None] | None = None
        self._status_callbacks: list[StatusCallback] = []
        self._status_queues: list[asyncio.Queue[TransportStatus]] = []
        self._events = EventHub()
        self._closing: set[asyncio.Future[None]] = set()

    # -- the seed's surface --------------------------------------------------------------------

    @property
    def status(self) -> TransportStatus:
        return self._status

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def session(self) -> RealtimeSession | None:
        """The live session, if connected."""
        return self._session

    async def connect(self, credential: CredentialInput | None = None) -> None:
        """Connect with ``credential`` (a ``ClientCredential`` or the JSON a credential endpoint
        returns, ``expiresAt`` as string or datetime); when ``None``, with one from
        ``get_credential`` if the client has it, else with the model's API key.

        A no-op while connected; while a connect is under way, waits for that one.
        """
        if self._status is TransportStatus.CONNECTED:
            return
        if self._connecting is not None:
            await asyncio.shield(self._connecting)
            return
        if credential is None and self._get_credential is not None:
            credential = await self._get_credential()
        parsed = credential_from_json(credential) if credential is not None else None
        if parsed is not None and parsed.is_expired():
            raise CredentialExpiredError(
                f"the credential expired at {parsed.expires_at.isoformat()}; "
                "fetch a new one from the credential endpoint"
            )
        options = replace(self._options, credential=parsed) if parsed else self._options
        self._connecting = asyncio.ensure_future(self._open(options))
        try:
            await asyncio.shield(self._connecting)
        finally:
            self._connecting = None

    async def disconnect(self) -> None:
        """Close the live session (if any); status returns to ``disconnected``."""
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        session, self._session = self._session, None
        self._generation += 1  # whatever the old session still says is now stale
        if session is not None:
            await session.close()
        self._set_status(TransportStatus.DISCONNECTED)

    def mute(self) -> None:
        self._muted = True
        if self._session is not None:
            self._session.mute()

    def unmute(self) -> None:
        self._muted = False
        if self._session is not None:
            self._session.unmute()

    def send_message(self, text: str) -> None:
        if self._session is None:
            raise RuntimeError("send_message needs a connected client: await connect() first")
        self._session.send_message(text)

    # -- observing -------------------------------------------------------------------------------

    def on_status(self, callback: StatusCallback) -> Callable[[], None]:
        self._status_callbacks.append(callback)

        def off() -> None:
            with contextlib.suppress(ValueError):
                self._status_callbacks.remove(callback)

        return off

    async def statuses(self) -> AsyncIterator[TransportStatus]:
        """The current status, then every change, until the iterator is closed."""
        queue: asyncio.Queue[TransportStatus] = asyncio.Queue()
        queue.put_nowait(self._status)
        self._status_queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._status_queues.remove(queue)

    def on(self, kind: str, handler: Handler) -> Callable[[], None]:
        """Session events of the live session (same kinds and aliases as the session's ``on``)."""
        return self._events.on(kind, handler)

    # -- internals -------------------------------------------------------------------------------

    async def _open(self, options: ConnectOptions) -> None:
        self._generation += 1
        generation = self._generation
        channel = self._channel() if callable(self._channel) else self._channel
        session = RealtimeSession(
            self.agent,
            model=self.model,
            channel=channel,
            context=self._context,
            connect_options=options,
            reconnect=self._reconnect,
            transport=FreshCredentials(self._get_credential) if self._get_credential else None,
        )
        if self._muted:
            session.mute()
        session.on("*", lambda event: self._forward(generation, event))
        self._set_status(TransportStatus.CONNECTING)
        try:
            await session.connect()
        except BaseException:
            if generation == self._generation:
                self._set_status(TransportStatus.DISCONNECTED)
            with contextlib.suppress(Exception):
                await session.close()
            raise
        self._session = session
        self._set_status(TransportStatus.CONNECTED)

    def _forward(self, generation: int, event: SessionEvent) -> None:
        if generation != self._generation:
            return  # a session we already left
        if isinstance(event, StatusChanged):
            if event.status is TransportStatus.DISCONNECTED and self._session is not None:
                # The link dropped under the session: release it (channel, tools) and go back
                # to disconnected so that connect() can start afresh.
                dropped, self._session = self._session, None
                self._generation += 1
                closing = asyncio.ensure_future(dropped.close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
                self._set_status(TransportStatus.DISCONNECTED)
            elif self._session is not None and event.status in _MIRRORED:
                self._set_status(event.status)  # reconnecting, and connected again
            return
        self._events.emit(event)

    def _set_status(self, status: TransportStatus) -> None:
        if status is self._status:
            return
        self._status = status
        for callback in list(self._status_callbacks):
            try:
                callback(status)
            except Exception:
                log.exception("status callback failed")
        for queue in self._status_queues:
            queue.put_nowait(status)
