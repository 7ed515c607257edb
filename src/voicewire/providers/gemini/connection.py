"""One Gemini Live session over as many sockets as it takes: the asyncio shell of the codec.

Gemini closes every socket after about ten minutes (announced by ``goAway``) and a socket may
drop at any time; a session outlives both through resumption handles. This connection keeps the
latest resumable handle and, on ``goAway``, moves to a new socket before ``timeLeft`` runs out:
it waits for a point where the model is not mid-turn and the handle is fresh (but not past the
deadline), closes the old socket first (Gemini refuses a resume while an earlier socket of the
session is open), reading what it still delivers, then dials again with the handle. The
application sees none of it: the status stays ``connected``, ``session.created`` comes once, and
what it sends meanwhile is queued and written after the switch.

A handle is the session's state when the server issued it, so the frames written after the
latest handle are kept and written again on the new socket, before anything queued: nothing is
lost and nothing is sent twice (responses to tool calls made after the handle excepted: the
resumed session never made those calls). From ``goAway`` on, frames are held for the new socket
(tool responses excepted: the turn under way waits for them), since a frame written while the
resumed handle is on its way to the client would be in neither the handle nor the resend. The
price: a user who speaks over the rest of the answer is heard after the switch, so that answer
plays to its end. Gemini's Developer API does not say which client message a handle covers
(``lastConsumedClientMessageIndex`` comes only with Vertex's transparent resumption), so a frame
written in the round trip before a handle arrives may be missing from it: holding frames from
``goAway`` (or an update) on and waiting for a handle issued after the model's turn keeps that
window shut when a turn ends in time, but a switch with a handle that arrived just before can
still miss those few milliseconds of input.

An unexpected close (or a dead link, noticed by the keepalive) resumes the same way, a few times
with backoff; without a handle, after a fatal close (1007, 1008, see :mod:`.close_codes`) or when
every attempt fails, the connection reports the error and ends, and the session's own reconnect
(with its history replay) takes over.

A ``session.update`` moves the session the same way: Gemini fixes a socket's setup, but a
resumption may bring a new one (everything but the model). The update takes its place in the
queue; the frames before it are written on the old socket, and once it is at the head the
connection holds what follows, waits (``ResumePolicy.update_wait``) for the model to be between
turns with a fresh handle, then opens the new socket with the new setup and that handle and says
``session.updated``. Before anything was said and with no handle yet, it simply opens a new
session with the new setup. After words but with no handle by the end of the wait it cannot move
the conversation, so it reports ``connection_lost`` and ends: the session's own reconnect opens
with the new configuration and replays the history. A change of audio formats only needs no new
socket (the codec resamples).

When the writer has had nothing to write for a moment while the client codec holds the end of
the user's resampled audio, it queues that end (the same hook as
:mod:`~voicewire.providers.codec_connection`'s, see :mod:`.client_codec`).

Every socket opens with ``setup``; nothing else is written before ``setupComplete``; a ``goAway``
a new socket sends before it is acted on once the socket carries the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol import (
    ClientEvent,
    ConnectionClosedError,
    HandshakeError,
    ProtocolError,
    ResponseCreated,
    ResponseDone,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdate,
    SessionUpdated,
    ToolCall,
    TransportStatus,
    UnsupportedEventError,
    WireSocket,
)
from ..event_stream import EventStream, StreamConnection
from ..keepalive import Keepalive, counting, watch
from .client_codec import GeminiClientCodec
from .close_codes import CloseOutcome, describe_close, setup_refused
from .resumption import (
    Dialer,
    Frame,
    Link,
    ResendLog,
    ResumePolicy,
    SetupClosed,
    SetupFor,
    answers_of,
    answers_only,
    dumps,
    is_audio,
    outcome_of,
)
from .server_decoder import GeminiServerDecoder
from .signals import GoAway, ResumptionUpdate, SetupComplete

__all__ = ["GeminiConnection", "ResumePolicy"]

log = logging.getLogger("voicewire.connection")


class GeminiConnection(StreamConnection):
    """A :class:`~voicewire.protocol.RealtimeConnection` (and push connection) to Gemini Live."""

    provider = "gemini"

    def __init__(
        self,
        dial: Dialer,
        setup_for: SetupFor,
        client: GeminiClientCodec,
        decoder: GeminiServerDecoder,
        *,
        keepalive: Keepalive | None = None,
        policy: ResumePolicy | None = None,
    ) -> None:
        """``dial`` opens a socket; ``setup_for(handle, config)`` is the setup frame for a socket
        with ``config`` that resumes ``handle`` (``None``: a new session)."""
        self._dial = dial
        self._setup_for = setup_for
        self._client = client
        self._decoder = decoder
        self._keepalive = keepalive
        self._policy = policy or ResumePolicy()
        self._config = client.config
        """The configuration of the current socket."""
        self._queued_config = client.config
        """The configuration of the latest frame queued (after the updates still queued)."""
        self._said = False
        """Anything written or heard in this session: a new session can no longer replace it."""
        self._deadline = 0.0
        """When a waiting handover switches at the latest (event loop time)."""
        self._go_away_after: float | None = None
        """``timeLeft`` of a ``goAway`` a new socket sent before its setup was complete."""
        self._stream = EventStream()
        self._session_id: str | None = None
        self._handle: str | None = None
        self._handle_fresh = False
        self._changed = asyncio.Event()
        """Set when a handle arrives or a turn ends: a waiting handover looks again."""
        self._link: Link | None = None
        self._ready = asyncio.Event()
        self._outgoing: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._resend = ResendLog()
        self._send_lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._switch: asyncio.Task[None] | None = None
        self._replacing = False
        self._holding = False
        """After ``goAway``: frames other than tool responses wait for the new socket."""
        self._retiring: asyncio.Task[None] | None = None
        self._closing = False
        self.resumptions = 0
        """How many times the session moved to a new socket."""
        self._events = 0  # events given to send() and taken
        self._unwritten: set[int] = set()  # of those, the ones with frames not yet on a socket
        self.delivered = 0
        """How many of the events given to :meth:`send` are known to have reached Gemini: those
        written before the last ping a pong answered (the
        :class:`~voicewire.protocol.ReportsDelivery` hook). A frame that reached a socket the
        session later left is as good: the connection writes again what the resumed handle
        lacks."""

    # -- opening ---------------------------------------------------------------------------------

    async def open(self, handle: str | None = None) -> None:
        """Open the first socket (resuming ``handle`` if given) and start the connection; raises
        what the dial raises, or an error naming the close when setup is refused."""
        self._handle = handle
        try:
            socket, session_id = await self._establish(handle, self._config)
        except SetupClosed as closed:
            raise setup_refused(closed.outcome) from None
        self._session_id = session_id
        self._stream.put(SessionCreated(session_id))
        self._attach(socket)
        self._writer = asyncio.create_task(self._write_loop(), name="gemini-writer")
        self._late_go_away()

    async def _establish(
        self, handle: str | None, config: SessionConfig
    ) -> tuple[WireSocket, str | None]:
        socket = await self._dial()
        self._go_away_after = None
        try:
            await socket.send(dumps(self._setup_for(handle, config)))
            async with asyncio.timeout(self._policy.setup_timeout):
                while True:
                    raw = await socket.recv()
                    for decoded in self._decoder.decode_text(raw):
                        if isinstance(decoded, SetupComplete):
                            return socket, decoded.session_id
                        if isinstance(decoded, GoAway):  # for this socket, once it is in use
                            self._go_away_after = decoded.time_left
                        else:
                            self._dispatch(decoded)
        except TimeoutError:
            await self._close_quietly(socket)
            raise HandshakeError(
                f"gemini did not answer setup within {self._policy.setup_timeout:g} s"
            ) from None
        except ProtocolError:
            await self._close_quietly(socket)
            raise
        except asyncio.CancelledError:  # the connection closes meanwhile
            await self._close_quietly(socket)
            raise
        except Exception as exc:
            await self._close_quietly(socket)
            raise SetupClosed(outcome_of(exc)) from None

    def _attach(self, socket: WireSocket) -> None:
        link = Link(socket)
        link.reader = asyncio.create_task(self._read_loop(link), name="gemini-reader")
        ping: Callable[[], Awaitable[object]] | None = getattr(socket, "ping", None)
        if self._keepalive is not None and callable(ping):
            link.pinger = asyncio.create_task(
                watch(
                    counting(ping, self._written_upto, self._proven),
                    self._keepalive,
                    lambda why: self._dead(link, why),
                ),
                name="gemini-pinger",
            )
        self._link = link
        self._ready.set()

    def _late_go_away(self) -> None:
        """A ``goAway`` the current socket sent before its setup was complete: act on it now."""
        if self._go_away_after is not None and self._link is not None:
            time_left, self._go_away_after = self._go_away_after, None
            self._go_away(time_left)

    # -- RealtimeConnection ----------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def resume_handle(self) -> str | None:
        """The latest resumable handle: keep it to resume this session later
        (``ConnectOptions(resume=ResumeConfig(handle))``); ``None`` until the server gives one."""
        return self._handle

    def send(self, event: ClientEvent) -> None:
        """Encode now (an event Gemini cannot express raises :class:`UnsupportedEventError`) and
        queue its frames; during a switch of sockets they wait for the new one."""
        if self.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(
                f"cannot send {event.kind}: the gemini connection is {self.status}"
            )
        if isinstance(event, SessionUpdate):
            self._update(event.config)
        else:
            encoded = self._client.encode(event)
            if encoded is None:
                raise UnsupportedEventError(
                    f"gemini cannot take {event.kind}: the Live API has no such client message "
                    "(see the model's capabilities)"
                )
            if encoded.frames:
                frames = [
                    Frame(dumps(f), answers=answers_of(f), audio=is_audio(f))
                    for f in encoded.frames
                ]
                frames[-1].acks = encoded.acks
                self._queue(frames)
            else:  # nothing to write: acknowledged at once
                for ack in encoded.acks:
                    self._stream.put(ack)
        self._events += 1

    def _queue(self, frames: list[Frame]) -> None:
        """Queue the frames of the event being sent (numbered for :attr:`delivered`)."""
        frames[-1].event = self._events
        self._unwritten.add(self._events)
        self._outgoing.extend(frames)
        self._drained.clear()
        self._wake.set()

    def _written_upto(self) -> int:
        """How many events, from the first, have all their frames on a socket."""
        return min(self._unwritten) if self._unwritten else self._events

    def _proven(self, count: int) -> None:
        self.delivered = max(self.delivered, count)

    def _update(self, config: SessionConfig) -> None:
        """A ``session.update``: the codec encodes what follows for ``config`` from now on;
        when the setup changes, the frames after it go to a new socket opened with the new setup
        and the latest handle (Gemini fixes a socket's configuration, but takes a new one on
        resumption); ``session.updated`` follows once that socket is up."""
        before = self._setup_for(None, self._queued_config)
        after = self._setup_for(None, config)  # a config Gemini cannot take raises here
        self._client.reconfigure(config)
        self._decoder.reconfigure(config)
        self._queued_config = config
        if after == before:  # formats only (resampled here) or nothing: no new socket
            self._stream.put(SessionUpdated(self._session_id))
            return
        self._queue([Frame("", config=config)])

    def send_raw(self, message: dict[str, Any]) -> None:
        """Send a Gemini wire message as is (for what the neutral events lack)."""
        if self.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(f"the gemini connection is {self.status}")
        self._outgoing.append(Frame(dumps(message)))
        self._drained.clear()
        self._wake.set()

    async def close(self) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        self._closing = True
        self._stream.set_status(TransportStatus.CLOSED)
        if self._switch is not None:
            self._switch.cancel()
            await asyncio.gather(self._switch, return_exceptions=True)
        if self._writer is not None:
            if self._ready.is_set() and not self._holding:
                with contextlib.suppress(TimeoutError):  # let what is queued go out, briefly
                    async with asyncio.timeout(2.0):
                        await self._drained.wait()
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._retire()
        self._stream.end()

    # -- writing ---------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        timeout = self._keepalive.ping_timeout if self._keepalive else None
        while True:
            index = self._next_frame()
            if index is None:
                if not self._outgoing or self._update_queued():
                    self._drained.set()
                self._wake.clear()
                await self._until_woken()
                continue
            await self._ready.wait()
            async with self._send_lock:
                link = self._link
                index = self._next_frame()
                if link is None or not self._ready.is_set() or index is None:
                    continue
                frame = self._outgoing[index]
                if frame.config is not None:  # a session.update: the next frames need a new socket
                    self._holding = True
                    self._begin_handover(self._policy.update_wait)
                    continue
                try:
                    async with asyncio.timeout(timeout):
                        await link.socket.send(frame.text)
                except TimeoutError:
                    self._dead(link, f"a send waited more than {timeout:g} s for the link")
                    continue
                except Exception as exc:
                    self._link_ended(link, outcome_of(exc))
                    continue
                del self._outgoing[index]
                self._sent(frame)
                self._unwritten.discard(frame.event)
            for ack in frame.acks:
                self._stream.put(ack)

    async def _until_woken(self) -> None:
        """Wait for something to write; when the client codec holds the end of the user's audio
        (``send_idle_after()``) and nothing comes that long, queue what ``send_idle()`` gives, after
        everything queued before (not an event given to :meth:`send`: not counted)."""
        quiet = self._client.send_idle_after()
        try:
            async with asyncio.timeout(quiet):
                await self._wake.wait()
        except TimeoutError:
            frames = self._client.send_idle()
            self._outgoing.extend(Frame(dumps(f), audio=is_audio(f)) for f in frames)
            if frames:
                self._drained.clear()

    def _next_frame(self) -> int | None:
        """Where the next frame to write is in the queue: its head, or while frames are held
        for the next socket (after ``goAway``) the first tool response, or ``None``."""
        if not self._holding:
            return 0 if self._outgoing else None
        return next((i for i, frame in enumerate(self._outgoing) if frame.urgent), None)

    def _sent(self, frame: Frame) -> None:
        self._said = True
        self._resend.written(frame)

    # -- reading ---------------------------------------------------------------------------------

    async def _read_loop(self, link: Link) -> None:
        while True:
            try:
                raw = await link.socket.recv()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._link_ended(link, outcome_of(exc))
                return
            try:
                decoded = self._decoder.decode_text(raw)
            except ProtocolError as exc:
                self._stream.put(SessionError(exc.code, exc.message))
                continue
            for item in decoded:
                self._dispatch(item)

    def _dispatch(self, item: object) -> None:
        if isinstance(item, SetupComplete):
            return  # a resumed socket's: the application heard session.created once
        if isinstance(item, ResumptionUpdate):
            if item.resumable and item.handle:
                self._handle, self._handle_fresh = item.handle, True
                self._resend.handle()
                self._changed.set()
            return
        if isinstance(item, GoAway):
            self._go_away(item.time_left)
            return
        self._said = True
        if isinstance(item, ToolCall):
            self._resend.calls.add(item.call_id)
        elif isinstance(item, ResponseCreated):
            self._handle_fresh = False  # the session moves on past the handle
            self._changed.set()
        elif isinstance(item, ResponseDone):
            self._changed.set()
        self._stream.put(item)  # type: ignore[arg-type]

    # -- moving to a new socket ------------------------------------------------------------------

    def _go_away(self, time_left: float) -> None:
        if self._closing:
            return
        log.info("gemini: goAway with %.1f s left; moving to a new socket", time_left)
        margin = min(self._policy.go_away_margin, time_left * 0.2)
        if self._handle is not None:
            # What is written from now on could miss the handle the switch resumes (it is
            # issued before the written frames arrive): keep it for the new socket instead.
            self._holding = True
        self._begin_handover(max(0.0, time_left - margin))

    def _begin_handover(self, within: float) -> None:
        """Move to a new socket within ``within`` seconds (sooner if one is already due), at a
        point where the model is not mid-turn and the handle is fresh if that comes first."""
        deadline = asyncio.get_running_loop().time() + within
        if self._switch is not None:  # a handover already waits (or a resumption runs)
            self._deadline = min(self._deadline, deadline)
            self._changed.set()
            return
        self._deadline = deadline
        self._switch = asyncio.create_task(self._hand_over(), name="gemini-handover")

    async def _hand_over(self) -> None:
        update = self._update_queued()
        if update and self._handle is None and not self._said:
            # Nothing said yet and nothing to resume: a new session with the new setup.
            self._holding = True
            await self._replace(attempts=self._policy.attempts)
            return
        if update:
            self._holding = True  # what follows the update belongs to the new setup
        await self._settle()
        if self._handle is not None:
            await self._replace(attempts=self._policy.attempts)
            return
        self._switch = None
        if not self._update_queued():
            log.warning("gemini: goAway but no resumption handle yet; the session will end")
            return
        self._lost(
            SessionError(
                "connection_lost",
                "gemini gave no resumption handle to apply session.update on a new socket; "
                "the session opens again with the new configuration",
                fatal=True,
            )
        )

    async def _settle(self) -> None:
        """Wait, until the deadline, for the model to be between turns with a fresh handle
        (with no turn under way, a fresh handle is waited for only briefly)."""
        loop = asyncio.get_running_loop()
        idle_until: float | None = None
        while not (self._handle_fresh and not self._decoder.in_turn):
            now = loop.time()
            if self._decoder.in_turn:
                idle_until = None
            elif idle_until is None:
                idle_until = now + self._policy.fresh_handle_wait
            remaining = min(self._deadline, idle_until or self._deadline) - now
            if remaining <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    def _update_queued(self) -> bool:
        """Whether the next frame to write is a ``session.update``."""
        return bool(self._outgoing) and self._outgoing[0].config is not None

    def _take_updates(self) -> SessionConfig | None:
        """The configuration of the ``session.update`` at the head of the queue (the last of
        several in a row), taken off the queue; ``None`` when the head is a frame."""
        config = None
        while self._update_queued():
            marker = self._outgoing.popleft()
            self._unwritten.discard(marker.event)
            config = marker.config
        return config

    def _link_ended(self, link: Link, outcome: CloseOutcome) -> None:
        """A socket closed or failed; resume when there is a handle and it is worth it."""
        if link is not self._link or link.retiring or self._closing:
            return
        if not outcome.resumable or self._handle is None:
            self._lost(outcome.error)
            return
        if self._replacing:
            return
        log.info("gemini: %s; resuming the session", outcome.error.message)
        # At once, not when the task first runs: the writer must stop trying this socket now.
        self._replacing = True
        self._ready.clear()
        if self._switch is not None:  # a goAway handover still waiting: resume now instead
            self._switch.cancel()
        self._switch = asyncio.create_task(
            self._replace(attempts=self._policy.attempts), name="gemini-resume"
        )

    def _dead(self, link: Link, reason: str) -> None:
        self._link_ended(link, describe_close(None, f"({reason})"))

    async def _replace(self, *, attempts: int) -> None:
        """Close the current socket, open one that resumes the latest handle, write again what
        was written since that handle, then what was queued."""
        self._replacing = True
        self._ready.clear()
        try:
            await self._replace_locked(attempts)
        finally:
            self._replacing = False
            self._switch = None
        self._late_go_away()

    async def _replace_locked(self, attempts: int) -> None:
        async with self._send_lock:
            update = self._take_updates()  # at the head: nothing before it is left to write
            config = update or self._config
            await self._retire()
            last: CloseOutcome | None = None
            backoff = self._policy.backoff or (0.0,)
            for attempt in range(max(1, attempts)):
                await asyncio.sleep(backoff[min(attempt, len(backoff) - 1)])
                try:
                    socket, session_id = await self._establish(self._handle, config)
                except SetupClosed as closed:
                    log.warning("gemini: resuming failed: %s", closed.outcome.error.message)
                    if not closed.outcome.resumable:  # the handle is refused: no use retrying
                        self._lost(closed.outcome.error)
                        return
                    last = closed.outcome
                    continue
                except Exception as exc:
                    log.warning("gemini: resuming failed (attempt %d): %s", attempt + 1, exc)
                    last = describe_close(None, f"(resuming failed: {exc})")
                    continue
                for event in self._decoder.link_changed():
                    self._dispatch(event)
                resend, made_since = self._resend.take()
                self._drop_queued_answers(made_since)
                self._outgoing.extendleft(reversed(resend))
                self.resumptions += 1
                self._holding = False
                self._config = config
                if self._handle is None:  # a new session (nothing was said in the old one)
                    self._session_id = session_id or self._session_id
                if update is not None:
                    self._stream.put(SessionUpdated(self._session_id))
                self._attach(socket)
                self._wake.set()
                return
        self._lost((last or describe_close(None)).error)

    def _drop_queued_answers(self, made_since: set[str]) -> None:
        """Tool responses still queued for calls made after the handle resumed: the session
        never made those calls, so they are not written (their acknowledgements still go out,
        as for any response the model no longer waits for)."""
        stale = [frame for frame in self._outgoing if answers_only(frame, made_since)]
        for frame in stale:
            self._outgoing.remove(frame)
            self._unwritten.discard(frame.event)
            for ack in frame.acks:
                self._stream.put(ack)

    async def _retire(self) -> None:
        """Close the current socket on purpose, reading what it still delivers until it ends."""
        link, self._link = self._link, None
        if link is None:
            return
        link.retiring = True
        if link.pinger is not None:
            link.pinger.cancel()
        await self._close_quietly(link.socket)
        if link.reader is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._close_timeout()):
                    await asyncio.gather(link.reader, return_exceptions=True)
            link.reader.cancel()
            await asyncio.gather(link.reader, return_exceptions=True)
        if link.pinger is not None:
            await asyncio.gather(link.pinger, return_exceptions=True)

    def _close_timeout(self) -> float:
        return self._keepalive.close_timeout if self._keepalive else 2.0

    async def _close_quietly(self, socket: WireSocket) -> None:
        try:
            await asyncio.wait_for(socket.close(1000, ""), self._close_timeout())
        except Exception:
            abort = getattr(getattr(socket, "transport", None), "abort", None)
            if callable(abort):
                abort()

    def _lost(self, error: SessionError) -> None:
        if self.status is not TransportStatus.CONNECTED or self._closing:
            return
        self._ready.clear()
        self._stream.put(error)
        self._stream.set_status(TransportStatus.DISCONNECTED)
        self._stream.end()
        if self._writer is not None:
            self._writer.cancel()
        self._retiring = asyncio.get_running_loop().create_task(self._retire())
