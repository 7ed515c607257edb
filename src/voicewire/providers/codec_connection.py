"""One live WebSocket link to a model, whatever its wire: a thin asyncio shell around a sans-I/O
codec.

A writer task drains the outgoing queue, a reader task decodes what arrives into neutral events.
Nothing that arrives is dropped: bad frames become ``session.error`` events and the connection
keeps reading. A link that dies without closing is noticed, when the connection is given
``keepalive`` (see :mod:`voicewire.providers.keepalive`), by its pings over a socket that has
``ping()``, and by a send that waits longer than ``ping_timeout`` for room in the socket's
buffers.

The codec decides everything that is about the wire, through :class:`Codec` and two optional
hooks:

* decoding may yield a :class:`Reply` among the events: a message the wire wants sent back at
  once (ElevenLabs answers every ``ping`` with a ``pong`` carrying its id). Replies go out ahead
  of whatever is queued, so a pong never waits behind seconds of queued audio;
* ``written(event)`` (optional): the neutral events that acknowledge a client event once it is
  on the socket, for wires that echo nothing (the session's ledger of unacknowledged events needs
  an ``item.created`` for every ``item.create``, see :mod:`voicewire.session.unacked`);
* ``describe_close(code, reason)`` (optional): what a close code means on this wire (ElevenLabs
  and Gemini report errors as close codes): words for the fatal ``connection_lost`` error, or a
  fatal :class:`~voicewire.protocol.SessionError` of its own for a close that reconnecting would
  not undo (the agent ended the call, a refused request), which a session does not retry;
* ``idle_after()`` and ``idle()`` (optional): when ``idle_after()`` gives a number of seconds,
  the reader calls ``idle()`` once that long passes without a frame, and puts the events it
  returns (ElevenLabs never says its agent stopped speaking, so the codec lets out the audio
  its resampler holds once the agent's audio pauses);
* ``send_idle_after()`` and ``send_idle()`` (optional), the same on the way out: when
  ``send_idle_after()`` gives a number of seconds, the writer, once it has had nothing to write
  for that long, writes the messages ``send_idle()`` returns, after everything sent before
  (ElevenLabs: the end of the user's converted audio, which the resampler holds until more
  comes; when the user stops, a WAV file ends or the mic is muted, nothing more comes).

Providers built on it: the OpenAI protocol (:mod:`.openai_protocol.connection`, the OpenAI
codec never replies nor acknowledges) and ElevenLabs Agents (:mod:`.elevenlabs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol import (
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
from .event_stream import EventStream, StreamConnection
from .keepalive import Keepalive, counting, watch

__all__ = ["INPUT_RELEASE_AFTER_S", "Codec", "CodecConnection", "Reply", "describe_close"]

log = logging.getLogger("voicewire.connection")

INPUT_RELEASE_AFTER_S = 0.2
"""A pause in the app's audio after which the end of it, held in the input resampler, is sent
(what a codec's ``send_idle_after()`` gives while it holds some; Gemini's connection, which has
its own writer, asks its codec the same way). Channels send audio every 20-100 ms while the user
is heard; if audio goes on after a release, it goes through a fresh resampler (a few samples of
filter ramp, nothing lost or repeated)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the codec wants sent back to the server now (not an event for the app)."""

    message: dict[str, Any]
    """The wire message, as JSON-ready data."""


class Codec(Protocol):
    """What a :class:`CodecConnection` needs of a sans-I/O codec."""

    def encode_client(self, event: ClientEvent) -> dict[str, Any] | None:
        """The message for ``event``; ``None`` when the provider has none."""
        ...

    def decode_server_text(self, text: str) -> Sequence[ServerEvent | Reply]:
        """Parse one text frame and decode it into events and replies; bad JSON or a malformed
        message raises ``ProtocolError``."""
        ...


_Written = Callable[[ClientEvent], Sequence[ServerEvent]]
_DescribeClose = Callable[[int | None, str], str | SessionError | None]
_Idle = Callable[[], Sequence[ServerEvent]]
_SendIdle = Callable[[], Sequence[dict[str, Any]]]

_CLOSED = object()
"""Tells the writer to stop."""
_WAKE = object()
"""Tells the writer a reply is waiting."""
_QUIET = object()
"""The writer has had nothing to write for the codec's ``send_idle_after()``."""


class CodecConnection(StreamConnection):
    """A :class:`~voicewire.protocol.RealtimeConnection` over an open socket and a codec."""

    def __init__(
        self,
        socket: WireSocket,
        codec: Codec,
        *,
        provider: str,
        keepalive: Keepalive | None = None,
        first_events: Sequence[ServerEvent] = (),
    ) -> None:
        """``keepalive``: ping the socket with its ``ping()`` (if it has one) on these settings,
        and treat a ping not sent and answered, or a send not taken, within ``ping_timeout`` as a
        lost link (the models pass their own; ``None``: the socket's own pings, if any).
        ``first_events``: events decoded before the connection took the socket over (a model
        that reads the server's greeting while connecting); they come first in the stream."""
        self._socket = socket
        self._codec = codec
        self.provider = provider
        self._stream = EventStream()
        self._session_id: str | None = None
        self._written: _Written | None = getattr(codec, "written", None)
        self._describe: _DescribeClose | None = getattr(codec, "describe_close", None)
        self._idle_after: Callable[[], float | None] | None = getattr(codec, "idle_after", None)
        self._send_idle_after: Callable[[], float | None] | None = getattr(
            codec, "send_idle_after", None
        )
        self._receiving: asyncio.Future[str | bytes] | None = None
        self._rearm: asyncio.Future[None] | None = None  # wakes a reader with no idle timer
        self._outgoing: asyncio.Queue[object] = asyncio.Queue()
        self._replies: deque[str] = deque()
        self.delivered = 0
        """How many of the events given to :meth:`send` reached the server: those written before
        the last ping a pong answered (the :class:`~voicewire.protocol.ReportsDelivery` hook)."""
        self._events_written = 0  # events given to send() that are on the socket
        for event in first_events:
            self._take(event)
        self._writer = asyncio.create_task(self._write_loop(), name=f"{provider}-writer")
        self._reader = asyncio.create_task(self._read_loop(), name=f"{provider}-reader")
        self._keepalive = keepalive
        self._dropping: asyncio.Task[None] | None = None
        ping: Callable[[], Awaitable[object]] | None = getattr(socket, "ping", None)
        self._pinger = (
            asyncio.create_task(
                watch(
                    counting(ping, lambda: self._events_written, self._proven),
                    keepalive,
                    self._dead,
                ),
                name=f"{provider}-pinger",
            )
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
        text = json.dumps(message, separators=(",", ":"))
        acks = self._written(event) if self._written is not None else ()
        self._outgoing.put_nowait((text, acks) if acks else text)
        if acks and self._rearm is not None and not self._rearm.done():
            self._rearm.set_result(None)  # what was written may start an idle timer

    def send_raw(self, message: dict[str, Any]) -> None:
        """Send a provider wire message as is (for provider features the neutral events lack)."""
        if self.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(f"the {self.provider} connection is {self.status}")
        self._outgoing.put_nowait((json.dumps(message, separators=(",", ":")), None))

    async def close(self) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        self._stream.set_status(TransportStatus.CLOSED)
        self._outgoing.put_nowait(_CLOSED)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(self._writer), timeout=2.0)
        self._writer.cancel()
        await self._close_socket()
        self._stop_reading()
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
        replies = self._replies
        while True:
            item = await self._next_out()
            while replies:  # answers the server waits for go first
                if not await self._write(replies.popleft()):
                    return
            if item is _CLOSED:
                return
            if item is _WAKE:
                continue
            if item is _QUIET:
                send_idle: _SendIdle = getattr(self._codec, "send_idle", lambda: ())
                for message in send_idle():  # not events given to send(): not counted
                    if not await self._write(json.dumps(message, separators=(",", ":"))):
                        return
                continue
            if item.__class__ is tuple:
                text, acks = item
                if not await self._write(text):
                    return
                if acks is None:  # send_raw's: not an event send() counts
                    continue
                self._events_written += 1
                for event in acks:
                    self._stream.put(event)
            elif not await self._write(item):  # type: ignore[arg-type]
                return
            else:
                self._events_written += 1

    async def _next_out(self) -> object:
        """The next thing to write, or :data:`_QUIET` once the codec's ``send_idle_after()``
        has passed with nothing (an item put meanwhile stays queued: ``Queue.get`` gives up
        only items it has not taken)."""
        quiet = self._send_idle_after() if self._send_idle_after is not None else None
        if quiet is None:
            return await self._outgoing.get()
        try:
            async with asyncio.timeout(quiet):
                return await self._outgoing.get()
        except TimeoutError:
            return _QUIET

    def _proven(self, count: int) -> None:
        self.delivered = max(self.delivered, count)

    async def _write(self, text: str) -> bool:
        """Send one frame; ``False`` when the link is gone (and reported)."""
        timeout = self._keepalive.ping_timeout if self._keepalive else None
        try:
            async with asyncio.timeout(timeout):
                await self._socket.send(text)
        except TimeoutError:
            self._dead(f"a send waited more than {timeout:g} s for the link to take it")
            return False
        except Exception as exc:
            self._lost(f"sending to {self.provider} failed: {exc}")
            return False
        return True

    async def _read_loop(self) -> None:
        decode = self._codec.decode_server_text
        put = self._stream.put
        idle_after = self._idle_after
        while True:
            try:
                if idle_after is not None:
                    raw = await self._recv_or_idle(idle_after())
                    if raw is None:
                        continue
                else:
                    raw = await self._socket.recv()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(self._describe_close(exc))
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
                if event.__class__ is Reply:
                    self._reply(event)
                else:
                    self._take(event)  # type: ignore[arg-type]

    async def _recv_or_idle(self, quiet: float | None) -> str | bytes | None:
        """The next frame, or ``None`` after ``quiet`` seconds without one, once the codec's
        ``idle()`` events are out. With no timer (``quiet`` is ``None``) it waits for a frame,
        or for :meth:`send` to write something that acknowledges an event (a tool result may
        start a timer), then ``None``. The receive is never cancelled (not every socket's
        ``recv`` survives that): it is awaited again on the next call."""
        receiving = self._receiving
        if receiving is None:
            receiving = self._receiving = asyncio.ensure_future(self._socket.recv())
        if quiet is None:
            rearm = self._rearm = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait({receiving, rearm}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._rearm = None
                rearm.cancel()
            if not receiving.done():
                return None
            self._receiving = None
            return receiving.result()
        done, _ = await asyncio.wait({receiving}, timeout=quiet)
        if done:
            self._receiving = None
            return receiving.result()
        idle: _Idle | None = getattr(self._codec, "idle", None)
        for event in idle() if idle is not None else ():
            self._take(event)
        return None

    def _stop_reading(self) -> None:
        self._reader.cancel()
        if self._receiving is not None:
            self._receiving.cancel()

    def _take(self, event: ServerEvent) -> None:
        if isinstance(event, SessionCreated) and event.session_id:
            self._session_id = event.session_id
        self._stream.put(event)

    def _reply(self, reply: Reply) -> None:
        if self.status is not TransportStatus.CONNECTED:
            return
        self._replies.append(json.dumps(reply.message, separators=(",", ":")))
        self._outgoing.put_nowait(_WAKE)

    def _describe_close(self, exc: Exception) -> str | SessionError:
        code = getattr(getattr(exc, "rcvd", None), "code", None)
        reason = getattr(getattr(exc, "rcvd", None), "reason", "") or ""
        if self._describe is not None:
            described = self._describe(code, reason)
            if described:
                return described
        return describe_close(exc, self.provider)

    def _dead(self, reason: str) -> None:
        """A ping went unanswered or a send never got through: the link is lost even though the
        socket never said so."""
        if self._dropping is not None:  # the pinger and the writer can both find out
            return
        self._lost(f"the link to {self.provider} is dead ({reason})")
        self._stop_reading()
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

    def _lost(self, reason: str | SessionError) -> None:
        """The link is gone: its last word is ``connection_lost`` with ``reason``, or the error
        the codec gave for a close that reconnecting would not undo."""
        if self.status is not TransportStatus.CONNECTED:
            return
        if isinstance(reason, str):
            reason = SessionError("connection_lost", reason, fatal=True)
        self._stream.put(reason)
        self._stream.set_status(TransportStatus.DISCONNECTED)
        self._stream.end()
        self._outgoing.put_nowait(_CLOSED)


def describe_close(exc: Exception, provider: str) -> str:
    """The generic words for a socket that closed (``exc`` from ``recv``): its close code and
    reason when it has them."""
    code = getattr(getattr(exc, "rcvd", None), "code", None)
    reason = getattr(getattr(exc, "rcvd", None), "reason", "")
    if code is not None:
        return f"{provider} closed the connection (code {code}{': ' + reason if reason else ''})"
    return f"the connection to {provider} was lost: {exc or type(exc).__name__}"
