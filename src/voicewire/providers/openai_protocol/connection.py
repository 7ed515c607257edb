"""One live WebSocket link to a model that speaks the OpenAI Realtime protocol.

A thin asyncio shell around the sans-I/O codec: a writer task drains the outgoing queue, a reader
task decodes what arrives into neutral events. Nothing that arrives is dropped: bad frames become
``session.error`` events and the connection keeps reading. A link that dies without closing is
noticed, when the connection is given ``keepalive`` (see :mod:`voicewire.providers.keepalive`),
by its pings over a socket that has ``ping()``, and by a send that waits longer than
``ping_timeout`` for room in the socket's buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ...protocol import (
    ClientEvent,
    ConnectionClosedError,
    ProtocolError,
    ServerEvent,
    SessionCreated,
    SessionError,
    TransportStatus,
    UnsupportedEventError,
    WireSocket,
)
from ..event_stream import EventStream, StreamConnection
from ..keepalive import Keepalive, watch

log = logging.getLogger("voicewire.connection")


class Codec(Protocol):
    def encode_client(self, event: ClientEvent) -> dict[str, Any] | None:
        """The message for ``event``; ``None`` when the provider has none."""
        ...

    def decode_server_text(self, text: str) -> list[ServerEvent]:
        """Parse one text frame and decode it; bad JSON raises ``ProtocolError``."""
        ...


_CLOSED = object()
"""Tells the writer to stop."""


class OpenAIProtocolConnection(StreamConnection):
    """A :class:`~voicewire.protocol.RealtimeConnection` over an open socket."""

    def __init__(
        self,
        socket: WireSocket,
        codec: Codec,
        *,
        provider: str,
        keepalive: Keepalive | None = None,
    ) -> None:
        """``keepalive``: ping the socket with its ``ping()`` (if it has one) on these settings,
        and treat a ping not sent and answered, or a send not taken, within ``ping_timeout`` as a
        lost link (the models pass their own; ``None``: the socket's own pings, if any)."""
        self._socket = socket
        self._codec = codec
        self.provider = provider
        self._stream = EventStream()
        self._session_id: str | None = None
        self._outgoing: asyncio.Queue[str | object] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name=f"{provider}-writer")
        self._reader = asyncio.create_task(self._read_loop(), name=f"{provider}-reader")
        self._keepalive = keepalive
        self._dropping: asyncio.Task[None] | None = None
        ping: Callable[[], Awaitable[object]] | None = getattr(socket, "ping", None)
        self._pinger = (
            asyncio.create_task(watch(ping, keepalive, self._dead), name=f"{provider}-pinger")
            if keepalive is not None and callable(ping)
            else None
        )

    # -- RealtimeConnection ------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    def send(self, event: ClientEvent) -> None:
        """Encode now (errors surface here) and queue for the writer. An event the provider
        has no message for raises :class:`UnsupportedEventError`: nothing is dropped silently."""
        if self.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(
                f"cannot send {event.kind}: the {self.provider} connection is {self.status}"
            )
        message = self._codec.encode_client(event)
        if message is None:
            raise UnsupportedEventError(
                f"{self.provider} cannot take {event.kind}: its realtime API has no such "
                "client event (see the model's capabilities)"
            )
        self._outgoing.put_nowait(json.dumps(message, separators=(",", ":")))

    def send_raw(self, message: dict[str, Any]) -> None:
        """Send a provider wire message as is (for provider features the neutral events lack)."""
        if self.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(f"the {self.provider} connection is {self.status}")
        self._outgoing.put_nowait(json.dumps(message, separators=(",", ":")))

    async def close(self) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        self._stream.set_status(TransportStatus.CLOSED)
        self._outgoing.put_nowait(_CLOSED)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(self._writer), timeout=2.0)
        self._writer.cancel()
        await self._close_socket()
        self._reader.cancel()
        tasks = [self._writer, self._reader]
        if self._pinger is not None:
            self._pinger.cancel()
            tasks.append(self._pinger)
        if self._dropping is not None:
            tasks.append(self._dropping)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._stream.end()

    # -- internals -------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            message = await self._outgoing.get()
            if message is _CLOSED:
                return
            timeout = self._keepalive.ping_timeout if self._keepalive else None
            try:
                async with asyncio.timeout(timeout):
                    await self._socket.send(message)  # type: ignore[arg-type]
            except TimeoutError:
                self._dead(f"a send waited more than {timeout:g} s for the link to take it")
                return
            except Exception as exc:
                self._lost(f"sending to {self.provider} failed: {exc}")
                return

    async def _read_loop(self) -> None:
        decode = self._codec.decode_server_text
        put = self._stream.put
        while True:
            try:
                raw = await self._socket.recv()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(_describe_close(exc, self.provider))
                return
            if isinstance(raw, bytes):
                put(
                    SessionError(
                        "protocol_error", f"{self.provider} sent an unexpected binary frame"
                    )
                )
                continue
            try:
                events = decode(raw)
            except ProtocolError as exc:
                put(SessionError(exc.code, f"{self.provider}: {exc.message}"))
                continue
            for event in events:
                if isinstance(event, SessionCreated) and event.session_id:
                    self._session_id = event.session_id
                put(event)

    def _dead(self, reason: str) -> None:
        """A ping went unanswered or a send never got through: the link is lost even though the
        socket never said so."""
        if self._dropping is not None:  # the pinger and the writer can both find out
            return
        self._lost(f"the link to {self.provider} is dead ({reason})")
        self._reader.cancel()
        self._dropping = asyncio.create_task(self._close_socket(1011, "keepalive ping timeout"))

    async def _close_socket(self, code: int = 1000, reason: str = "") -> None:
        """Close without waiting long for a close handshake nobody may answer (on a dead link
        ``websockets`` waits for its full buffer to drain before its own close timeout starts);
        abort the transport (``websockets`` sockets have one) if closing takes longer."""
        timeout = self._keepalive.close_timeout if self._keepalive else 2.0
        try:
            await asyncio.wait_for(self._socket.close(code, reason), timeout)
        except Exception:
            abort = getattr(getattr(self._socket, "transport", None), "abort", None)
            if callable(abort):
                abort()

    def _lost(self, reason: str) -> None:
        if self.status is not TransportStatus.CONNECTED:
            return
        self._stream.put(SessionError("connection_lost", reason, fatal=True))
        self._stream.set_status(TransportStatus.DISCONNECTED)
        self._stream.end()
        self._outgoing.put_nowait(_CLOSED)


def _describe_close(exc: Exception, provider: str) -> str:
    code = getattr(getattr(exc, "rcvd", None), "code", None)
    reason = getattr(getattr(exc, "rcvd", None), "reason", "")
    if code is not None:
        return f"{provider} closed the connection (code {code}{': ' + reason if reason else ''})"
    return f"the connection to {provider} was lost: {exc or type(exc).__name__}"
