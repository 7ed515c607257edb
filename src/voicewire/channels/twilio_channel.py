"""The I/O of a phone call on Twilio Media Streams: :class:`TwilioChannel` reads and writes the
WebSocket Twilio opens, converts and frames the audio, and tells the session what the caller
heard. What the messages look like is :mod:`~voicewire.channels.telephony.twilio_media`'s concern;
the guide to a whole app is in :mod:`voicewire.channels.twilio`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from ..audio import AudioConverter, ResamplerQuality
from ..protocol import (
    AudioFormat,
    AudioSink,
    ConfigurationError,
    ConnectionClosedError,
    PlaybackPosition,
)
from .telephony.marks import MarkTracker
from .telephony.twilio_media import (
    MULAW_8K,
    Dtmf,
    ErrorKind,
    InboundMessage,
    Mark,
    Media,
    Start,
    Stop,
    TwilioMediaStream,
    TwilioMessageError,
    TwilioStreamError,
    TwilioStreamInfo,
)

__all__ = ["FRAME_BYTES", "TwilioChannel", "TwilioWebSocket"]

log = logging.getLogger("voicewire.channels.twilio")

FRAME_BYTES: Final = 160
"""20 ms of 8 kHz μ-law: the size of the media frames the channel sends."""
_BYTES_PER_MS: Final = MULAW_8K.bytes_per_second // 1000
_MAX_ERRORS: Final = 200


class TwilioWebSocket(Protocol):
    """What the channel needs of a server-side WebSocket; Starlette's (and FastAPI's)
    ``WebSocket`` has it. ``receive`` returns raw ASGI messages."""

    async def accept(self) -> None: ...

    async def receive(self) -> Any: ...

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(slots=True)
class _Output:
    """Playback state of the item currently being sent."""

    item_id: str
    content_index: int
    source_ms: float = 0.0
    """Audio of this item received from the session (in its output format)."""
    sent_bytes: int = 0
    """μ-law bytes of this item queued for Twilio."""
    marked_bytes: int = 0
    """``sent_bytes`` at the last mark."""
    marked_ms: int = -1
    pending: bytearray = field(default_factory=bytearray)
    """μ-law bytes not yet cut into a full frame."""


_Outbound = (
    tuple[Literal["media"], bytes] | tuple[Literal["mark"], str] | tuple[Literal["clear"], None]
)


# -- the channel ------------------------------------------------------------------------------


class TwilioChannel:
    """A :class:`~voicewire.protocol.RealtimeChannel` on a Twilio Media Streams WebSocket.

    **Input.** Twilio's ``media`` frames (inbound track) are decoded and sent to the sink,
    converted from 8 kHz μ-law to ``sink.input_format`` (untouched when that is ``audio/pcmu``).
    Audio that arrives after ``start`` but before a sink is attached is kept (the latest
    ``input_buffer_ms``) and delivered on :meth:`start`.

    **Output.** :meth:`play` converts to μ-law and queues 160-byte (20 ms) ``media`` frames; a
    ``mark`` follows every ``mark_interval_ms`` of audio and the end of the item. A writer task
    sends them in order once Twilio's ``start`` gave the ``streamSid``.

    **Heard position.** Twilio echoes each mark when the audio before it has been played, so
    :meth:`playback_position` reports, for the item last played, the position of its last echoed
    mark, never more. Mark positions count the μ-law audio actually sent, except the mark that
    closes an item, which reports all the audio the session delivered for it (the converter's
    tail has been flushed by then), so a fully heard item matches the session's own count.

    **Interruption.** :meth:`interrupt` drops what is still queued here, sends ``clear`` (Twilio
    discards what it buffered), forgets the pending marks (Twilio echoes them after a clear,
    though nobody heard that audio), and ignores further audio of the interrupted item.

    **Call events.** ``dtmf`` digits are appended to :attr:`dtmf_digits` and passed to
    :attr:`on_dtmf`; ``stop`` (or the socket closing) sets :attr:`stopped`; the app then closes
    the session. Problems in what Twilio sends (malformed JSON, unknown events, media before
    ``start``, bad base64, ...) are logged, appended to :attr:`errors` and passed to
    :attr:`on_error`; the reader keeps going.

    Callbacks run on the reader task and must not block; start a task for async work.
    """

    def __init__(
        self,
        websocket: TwilioWebSocket,
        *,
        on_dtmf: Callable[[str], object] | None = None,
        on_error: Callable[[TwilioStreamError], object] | None = None,
        mark_interval_ms: float = 20.0,
        flush_after_ms: float = 100.0,
        input_buffer_ms: float = 1000.0,
        resample_quality: ResamplerQuality = "HQ",
    ) -> None:
        if not mark_interval_ms > 0:
            raise ConfigurationError(f"mark_interval_ms must be positive, got {mark_interval_ms}")
        if not flush_after_ms > 0:
            raise ConfigurationError(f"flush_after_ms must be positive, got {flush_after_ms}")
        if not input_buffer_ms >= 0:
            raise ConfigurationError(f"input_buffer_ms must be >= 0, got {input_buffer_ms}")
        self.websocket: TwilioWebSocket = websocket
        self.on_dtmf = on_dtmf
        self.on_error = on_error
        self.mark_interval_ms = mark_interval_ms
        self.flush_after_ms = flush_after_ms
        self.input_buffer_ms = input_buffer_ms
        self.resample_quality: ResamplerQuality = resample_quality

        self.started = asyncio.Event()
        """Set when Twilio's ``start`` message arrived (:attr:`info` is then available)."""
        self.stopped = asyncio.Event()
        """Set when Twilio sent ``stop``, or the WebSocket closed: the call is over."""
        self.stream = TwilioMediaStream()
        """The wire state: what ``start`` said, the ``streamSid`` outbound messages carry."""
        self.stop_reason: str | None = None
        """``"stop"`` (Twilio ended the stream), ``"disconnected"`` or ``"closed"`` (by us)."""
        self.dtmf_digits: list[str] = []
        self.errors: list[TwilioStreamError] = []
        """Recent problems (the latest 200); :attr:`error_count` counts them all."""
        self.error_count = 0
        self.marks = MarkTracker()
        self.media_bytes_received = 0
        """Inbound μ-law bytes decoded from Twilio's media frames."""
        self.media_bytes_sent = 0
        """μ-law bytes sent to Twilio."""

        self._sink: AudioSink | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._accepted = False
        self._disconnected = False
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._closing = False
        self._input: AudioConverter | None = None
        self._early_input: deque[bytes] = deque()
        self._early_bytes = 0
        self._converter: AudioConverter | None = None
        self._output: _Output | None = None
        self._last_played: tuple[str, int] | None = None
        self._cut_items: set[str] = set()
        self._outbox: deque[_Outbound] = deque()
        self._outbox_ready = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self._idle_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        sid = self.info.stream_sid if self.info else None
        return f"TwilioChannel(stream_sid={sid!r})"

    # -- call metadata -------------------------------------------------------------------------

    @property
    def info(self) -> TwilioStreamInfo | None:
        """Twilio's ``start`` message, once it arrived."""
        return self.stream.info

    @property
    def protocol_version(self) -> str | None:
        """``version`` of the ``connected`` message."""
        return self.stream.protocol_version

    @property
    def stream_sid(self) -> str | None:
        return self.stream.stream_sid

    @property
    def call_sid(self) -> str | None:
        return self.info.call_sid if self.info else None

    @property
    def custom_parameters(self) -> Mapping[str, str]:
        """The TwiML ``<Parameter>`` values (empty before ``start``)."""
        return self.info.custom_parameters if self.info else {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def accept(self) -> None:
        """Accept the WebSocket unless the app already did; idempotent."""
        if self._accepted:
            return
        self._accepted = True
        state = getattr(self.websocket, "application_state", None)
        if state is None or getattr(state, "name", "") == "CONNECTING":
            await self.websocket.accept()

    async def _run(self) -> None:
        """Accept and start the reader and writer (once)."""
        if self._closed:
            raise ConnectionClosedError("this TwilioChannel was closed; a call has one channel")
        await self.accept()
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="twilio-reader")
            self._writer = asyncio.create_task(self._write(), name="twilio-writer")

    async def wait_started(self) -> TwilioStreamInfo:
        """Start reading and wait for Twilio's ``start`` message (before creating the session,
        e.g. to choose the agent from :attr:`custom_parameters`). Bound the wait with
        :func:`asyncio.timeout`. Raises :class:`~voicewire.protocol.ConnectionClosedError` if the
        call ended first."""
        await self._run()
        started = asyncio.ensure_future(self.started.wait())
        stopped = asyncio.ensure_future(self.stopped.wait())
        try:
            await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
            stopped.cancel()
        if self.info is None:
            raise ConnectionClosedError(
                f"the Twilio stream ended ({self.stop_reason}) before its start message"
            )
        return self.info

    async def start(self, sink: AudioSink) -> None:
        """Attach the session (called by it on connect; again on reconnect)."""
        await self._run()
        for off in self._unsubscribe:
            off()
        self._unsubscribe = []
        self._sink = sink
        subscribe = getattr(sink, "on", None)  # a RealtimeSession tells us when an item ends
        if callable(subscribe):
            for kind in ("audio.output.done", "response.done"):
                off = subscribe(kind, self._on_output_done)
                if callable(off):
                    self._unsubscribe.append(off)
        early, self._early_input = list(self._early_input), deque()
        self._early_bytes = 0
        for payload in early:
            self._forward_input(payload)

    async def close(self, *, drain_timeout: float = 1.0) -> None:
        """Send what is still queued (up to ``drain_timeout`` s), stop, and close the socket."""
        if self._closing:
            return
        self._closing = True
        if self._writer is not None and not self.stopped.is_set() and self.started.is_set():
            self._flush_output()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout):
                    await self._outbox_empty.wait()
        self._closed = True
        self._ended("closed")
        for off in self._unsubscribe:
            off()
        self._unsubscribe = []
        for task in (self._writer, self._reader):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._accepted and not self._disconnected:
            self._disconnected = True
            with contextlib.suppress(Exception):
                await self.websocket.close()

    # -- input ---------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while True:
                try:
                    message = await self.websocket.receive()
                except Exception as exc:  # e.g. RuntimeError: receive after disconnect
                    self._disconnected = True
                    if not self.stopped.is_set():
                        self._report("receive_failed", f"reading from Twilio failed: {exc}")
                    break
                kind = message.get("type")
                if kind == "websocket.disconnect":
                    self._disconnected = True
                    break
                text = message.get("text")
                if text is None:
                    size = len(message.get("bytes") or b"")
                    self._report("binary_frame", f"ignored a binary frame ({size} bytes)")
                    continue
                try:
                    self._handle_text(text)
                except Exception as exc:  # a bug here must not end the call
                    log.exception("handling a Twilio message failed")
                    self._report("internal_error", f"handling a message failed: {exc!r}")
        finally:
            self._ended("disconnected")

    def _handle_text(self, text: str) -> None:
        try:
            message = self.stream.receive(text)
        except TwilioMessageError as exc:
            self._record(exc.error)
            return
        self._handle(message)

    def _handle(self, message: InboundMessage) -> None:
        if isinstance(message, Media):
            self._on_media(message)
        elif isinstance(message, Mark):
            if self.marks.acknowledge(message.name) is None:
                log.debug("mark %r is not pending (cleared or not ours)", message.name)
        elif isinstance(message, Dtmf):
            self.dtmf_digits.append(message.digit)
            if self.on_dtmf is not None:
                self._call(self.on_dtmf, message.digit)
        elif isinstance(message, Start):
            self._on_start(message)
        elif isinstance(message, Stop):
            log.info("Twilio stream %s stopped", self.stream_sid)
            self._ended("stop")
        # Connected: the stream keeps its version; nothing else to do

    def _on_start(self, message: Start) -> None:
        for problem in message.problems:
            self._record(problem)
        log.info("Twilio stream %s started (call %s)", self.stream_sid, self.call_sid)
        self.started.set()
        self._outbox_ready.set()

    def _on_media(self, media: Media) -> None:
        if not media.inbound:
            return  # the outbound track of a <Start><Stream track="both_tracks">: our own audio
        audio = media.payload
        self.media_bytes_received += len(audio)
        if self._sink is None:
            self._keep_early(audio)
        else:
            self._forward_input(audio)

    def _keep_early(self, audio: bytes) -> None:
        self._early_input.append(audio)
        self._early_bytes += len(audio)
        limit = int(self.input_buffer_ms * _BYTES_PER_MS)
        while self._early_bytes > limit and self._early_input:
            self._early_bytes -= len(self._early_input.popleft())

    def _forward_input(self, audio: bytes) -> None:
        sink = self._sink
        if sink is None or not audio:
            return
        fmt = sink.input_format
        if self._input is None or self._input.dst != fmt:
            self._input = AudioConverter(MULAW_8K, fmt, quality=self.resample_quality)
        converted = self._input.convert(audio)
        if converted:
            sink.send_audio(converted)

    def _ended(self, reason: str) -> None:
        """The call is over: nothing more will be played."""
        if self.stopped.is_set():
            return
        self.stop_reason = reason
        self.stopped.set()
        self._cancel_idle_timer()
        self._outbox.clear()
        self._outbox_empty.set()
        self._outbox_ready.set()  # let the writer see it

    # -- output --------------------------------------------------------------------------------

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        if self._closed or self.stopped.is_set() or item_id in self._cut_items or not audio:
            return
        out = self._output
        if out is None or (out.item_id, out.content_index) != (item_id, content_index):
            if out is not None:
                self._flush_output()
            out = self._output = _Output(item_id, content_index)
            self._last_played = (item_id, content_index)
        src = self._sink.output_format if self._sink is not None else AudioFormat.pcm16()
        converter = self._converter
        if converter is None or converter.src != src:
            tail = converter.flush() if converter is not None else b""
            converter = self._converter = AudioConverter(
                src, MULAW_8K, quality=self.resample_quality
            )
            if tail:
                self._queue_audio(out, tail)
        out.source_ms += len(audio) * 1000.0 / src.bytes_per_second
        self._queue_audio(out, converter.convert(audio))
        if converter.passthrough and not out.pending and out.sent_bytes == out.marked_bytes:
            self._cancel_idle_timer()  # everything is sent and marked: nothing to flush
        else:
            self._restart_idle_timer()

    def _queue_audio(self, out: _Output, mulaw: bytes) -> None:
        """Cut μ-law into full frames, with a mark every ``mark_interval_ms``."""
        out.pending += mulaw
        interval = max(1, round(self.mark_interval_ms * _BYTES_PER_MS))
        while len(out.pending) >= FRAME_BYTES:
            frame = bytes(out.pending[:FRAME_BYTES])
            del out.pending[:FRAME_BYTES]
            self._enqueue(("media", frame))
            out.sent_bytes += len(frame)
            if out.sent_bytes - out.marked_bytes >= interval:
                self._mark(out, out.sent_bytes // _BYTES_PER_MS)

    def _mark(self, out: _Output, audio_end_ms: int) -> None:
        if audio_end_ms <= out.marked_ms and out.sent_bytes == out.marked_bytes:
            return
        mark = self.marks.new(out.item_id, out.content_index, audio_end_ms)
        out.marked_bytes, out.marked_ms = out.sent_bytes, audio_end_ms
        self._enqueue(("mark", mark.name))

    def _flush_output(self) -> None:
        """End of the current item (or a pause in it): send the converter's tail and the
        partial frame, then a mark covering everything the session delivered."""
        self._cancel_idle_timer()
        out = self._output
        if out is None:
            return
        if self._converter is not None:
            tail = self._converter.flush()
            if tail:
                self._queue_audio(out, tail)
        if out.pending:
            frame = bytes(out.pending)
            out.pending.clear()
            self._enqueue(("media", frame))
            out.sent_bytes += len(frame)
        if out.sent_bytes > 0:
            # All the session delivered has been sent now; the epsilon absorbs float sums.
            self._mark(out, max(out.sent_bytes // _BYTES_PER_MS, int(out.source_ms + 1e-6)))

    def _on_output_done(self, event: Any) -> None:
        out = self._output
        item_id = getattr(event, "item_id", None)
        if out is not None and (item_id is None or item_id == out.item_id):
            self._flush_output()

    def _restart_idle_timer(self) -> None:
        self._cancel_idle_timer()
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self.flush_after_ms / 1000.0, self._flush_output)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _enqueue(self, message: _Outbound) -> None:
        self._outbox.append(message)
        self._outbox_empty.clear()
        self._outbox_ready.set()

    def playback_position(self) -> PlaybackPosition | None:
        """What the caller has heard of the item last played: its last echoed mark."""
        if self._last_played is None:
            return None
        item_id, content_index = self._last_played
        return PlaybackPosition(item_id, self.marks.heard_ms(item_id, content_index), content_index)

    def interrupt(self) -> None:
        """Barge-in: drop queued audio, ``clear`` Twilio's buffer, forget pending marks."""
        self._cancel_idle_timer()
        self._outbox.clear()  # never sent: neither the audio nor its marks
        self.marks.forget_pending()
        if self._converter is not None:
            self._converter.reset()
        if self._output is not None:
            self._cut_items.add(self._output.item_id)
            self._output = None
        if not self.stopped.is_set() and not self._closed:
            self._enqueue(("clear", None))

    async def _write(self) -> None:
        while not self.stopped.is_set():
            # Nothing goes out before Twilio's start message: it carries the streamSid.
            if not self.started.is_set() or not self._outbox:
                if not self._outbox:
                    self._outbox_empty.set()
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            kind, data = self._outbox.popleft()
            text = self._encode(kind, data)
            try:
                await self.websocket.send_text(text)
            except Exception as exc:
                if not self.stopped.is_set():
                    self._report("send_failed", f"sending {kind} to Twilio failed: {exc!r}")
                self._ended("disconnected")
                return
            if kind == "media" and isinstance(data, bytes):
                self.media_bytes_sent += len(data)

    def _encode(self, kind: str, data: bytes | str | None) -> str:
        if kind == "media" and isinstance(data, bytes):
            return self.stream.media(data)
        if kind == "mark" and isinstance(data, str):
            return self.stream.mark(data)
        return self.stream.clear()

    # -- reporting -----------------------------------------------------------------------------

    def _report(self, kind: ErrorKind, message: str) -> None:
        self._record(TwilioStreamError(kind, message))

    def _record(self, error: TwilioStreamError) -> None:
        log.warning("Twilio stream %s: %s", self.stream_sid or "(not started)", error)
        self.error_count += 1
        self.errors.append(error)
        if len(self.errors) > _MAX_ERRORS:
            del self.errors[0]
        if self.on_error is not None and error.kind != "callback_failed":
            self._call(self.on_error, error)

    def _call(self, callback: Callable[[Any], object], argument: Any) -> None:
        try:
            callback(argument)
        except Exception as exc:
            log.exception("Twilio channel callback %r failed", callback)
            self._report("callback_failed", f"{callback!r} raised {exc!r}")
