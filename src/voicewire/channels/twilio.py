"""A phone call as a channel: the server side of Twilio Media Streams (``<Connect><Stream>``).

Twilio answers the call, asks your voice webhook for TwiML, and on ``<Connect><Stream url=...>``
opens a WebSocket *to you*. :class:`TwilioChannel` sits on that WebSocket: it feeds the caller's
audio (8 kHz μ-law) into a :class:`~voicewire.session.RealtimeSession` and sends the agent's
reply back as μ-law ``media`` frames, each stretch followed by a ``mark``. Twilio echoes a mark
once the caller has heard the audio before it, so the channel knows what was actually heard, and
a barge-in truncates the assistant's item there (not at what was merely sent, which can be
seconds ahead because Twilio buffers).

A complete app (Starlette; run it with uvicorn behind a public ``https``/``wss`` host)::

    import os

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from voicewire import AudioFormat, RealtimeAgent, RealtimeSession, SessionConfig
    from voicewire.channels.twilio import (
        TwilioChannel, twilio_route, twiml_connect_stream, validate_twilio_signature)
    from voicewire.protocol import ConnectOptions
    from voicewire.providers import openai

    PUBLIC_HOST = "voice.example.com"                       # where Twilio reaches this app
    AUTH_TOKEN = os.environ["TWILIO_AUTH_TOKEN"]
    AGENT = RealtimeAgent(id="desk", name="Front desk", instructions="Answer the phone politely.")
    # G.711 μ-law end to end: audio passes through untouched (no resampling, lowest latency).
    PHONE = ConnectOptions(session_config=SessionConfig(
        input_audio_format=AudioFormat.pcmu(), output_audio_format=AudioFormat.pcmu()))

    async def voice(request: Request) -> Response:          # Twilio's "A call comes in" webhook
        form = await request.form()
        url = f"https://{PUBLIC_HOST}{request.url.path}"
        if not validate_twilio_signature(AUTH_TOKEN, url, form,
                                         request.headers.get("X-Twilio-Signature")):
            return Response(status_code=403)
        twiml = twiml_connect_stream(f"wss://{PUBLIC_HOST}/media",
                                     parameters={"caller": str(form.get("From", ""))})
        return Response(twiml, media_type="text/xml")

    async def call(channel: TwilioChannel) -> None:
        info = await channel.wait_started()                  # stream/call SIDs, parameters
        session = RealtimeSession(AGENT, model=openai.realtime(), channel=channel,
                                  connect_options=PHONE)
        channel.on_dtmf = lambda digit: session.send_message(f"I pressed {digit}.")
        async with session:                                  # closes the session (and channel)
            await channel.stopped.wait()                     # the caller hung up

    app = Starlette(routes=[Route("/voice", voice, methods=["POST"]),
                            twilio_route("/media", call)])

Without :func:`twilio_route`, create the channel inside any Starlette/FastAPI WebSocket endpoint:
``channel = TwilioChannel(websocket)`` (accepted by :meth:`TwilioChannel.start` or
:meth:`~TwilioChannel.wait_started` if you have not accepted it yourself).

How output works (see :class:`TwilioChannel` for the details): the session's audio is converted
to μ-law (passed through when the session already speaks ``audio/pcmu``), cut into 20 ms
``media`` frames of 160 bytes, and a ``mark`` follows every ``mark_interval_ms`` of audio and the
end of each item. Resampling delays a little audio inside the filter; the channel flushes it at
the end of each item (when the sink is a session it listens for ``audio.output.done`` and
``response.done``, and in any case after ``flush_after_ms`` without new audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from ..audio import AudioConverter, ResamplerQuality
from ..protocol import (
    AudioFormat,
    AudioSink,
    ConfigurationError,
    ConnectionClosedError,
    PlaybackPosition,
)
from ..protocol.base64_audio import b64decode_strict, encode_base64
from .twilio_twiml import twilio_signature, twiml_connect_stream, validate_twilio_signature

if TYPE_CHECKING:
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

__all__ = [
    "MarkTracker",
    "TwilioChannel",
    "TwilioMark",
    "TwilioStreamError",
    "TwilioStreamInfo",
    "TwilioWebSocket",
    "twilio_route",
    "twilio_signature",
    "twiml_connect_stream",
    "validate_twilio_signature",
]

log = logging.getLogger("voicewire.channels.twilio")

MULAW_8K: Final = AudioFormat.pcmu()
"""What Twilio Media Streams carry both ways: G.711 μ-law, 8 kHz, mono, no header."""
FRAME_BYTES: Final = 160
"""20 ms of 8 kHz μ-law: the size of the media frames the channel sends."""
_BYTES_PER_MS: Final = 8
_MAX_ERRORS: Final = 200

ErrorKind = Literal[
    "malformed_json",
    "invalid_message",
    "unknown_event",
    "media_before_start",
    "invalid_payload",
    "duplicate_start",
    "unsupported_media_format",
    "binary_frame",
    "callback_failed",
    "send_failed",
    "receive_failed",
    "internal_error",
]


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwilioStreamError:
    """Something wrong with what Twilio sent (or with sending to it). The call goes on."""

    kind: ErrorKind
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class TwilioStreamInfo:
    """The ``start`` message: which stream and call this is, and the TwiML ``<Parameter>``\\ s."""

    stream_sid: str
    call_sid: str | None
    account_sid: str | None
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str]
    media_format: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TwilioMark:
    """A mark the channel sent: once Twilio echoes ``name``, the caller has heard
    ``audio_end_ms`` of the item's content part."""

    name: str
    item_id: str
    content_index: int
    audio_end_ms: int


class MarkTracker:
    """Bookkeeping of marks: sent and not yet echoed, and how far each item has been heard.

    Twilio plays the stream in order and echoes marks in the order they were sent, so echoing a
    mark also settles every mark sent before it. A name that is not pending (never sent, already
    settled, or forgotten by :meth:`forget_pending`) is ignored: after a ``clear`` Twilio echoes
    every mark that was still queued, although that audio was thrown away, not heard.
    """

    def __init__(self) -> None:
        self._pending: dict[str, TwilioMark] = {}
        self._heard: dict[tuple[str, int], int] = {}
        self._seq = 0
        self.acknowledged = 0
        """Marks settled by an echo so far."""

    def new(self, item_id: str, content_index: int, audio_end_ms: int) -> TwilioMark:
        """Register the mark that follows ``audio_end_ms`` of the item's audio."""
        self._seq += 1
        name = f"vw{self._seq}:{item_id}:{content_index}:{audio_end_ms}"
        mark = TwilioMark(name, item_id, content_index, audio_end_ms)
        self._pending[name] = mark
        return mark

    def acknowledge(self, name: str) -> TwilioMark | None:
        """Twilio echoed ``name``: returns its mark, or ``None`` if it was not pending."""
        mark = self._pending.get(name)
        if mark is None:
            return None
        while self._pending:  # this mark and every one sent before it
            earlier_name = next(iter(self._pending))
            earlier = self._pending.pop(earlier_name)
            self._settle(earlier)
            if earlier_name == name:
                break
        return mark

    def _settle(self, mark: TwilioMark) -> None:
        key = (mark.item_id, mark.content_index)
        self._heard[key] = max(self._heard.get(key, 0), mark.audio_end_ms)
        self.acknowledged += 1

    def forget_pending(self) -> int:
        """Drop every pending mark (their audio was cleared); returns how many."""
        count = len(self._pending)
        self._pending.clear()
        return count

    def heard_ms(self, item_id: str, content_index: int = 0) -> int:
        """Audio of the item acknowledged as heard, in ms (0 before its first echoed mark)."""
        return self._heard.get((item_id, content_index), 0)

    @property
    def pending(self) -> tuple[TwilioMark, ...]:
        """Marks sent (or queued) and not yet echoed, oldest first."""
        return tuple(self._pending.values())


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
        self.info: TwilioStreamInfo | None = None
        self.protocol_version: str | None = None
        """``version`` of the ``connected`` message."""
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
    def stream_sid(self) -> str | None:
        return self.info.stream_sid if self.info else None

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
            message = json.loads(text)
        except ValueError as exc:
            self._report("malformed_json", f"not JSON ({exc}): {_preview(text)}")
            return
        if not isinstance(message, dict):
            self._report("invalid_message", f"expected a JSON object: {_preview(text)}")
            return
        event = message.get("event")
        if not isinstance(event, str):
            self._report("invalid_message", f"no 'event' string: {_preview(text)}")
            return
        handler = self._handlers.get(event)
        if handler is None:
            self._report("unknown_event", f"unknown event {event!r}: {_preview(text)}")
            return
        handler(self, message)

    def _on_connected(self, message: dict[str, Any]) -> None:
        version = message.get("version")
        self.protocol_version = version if isinstance(version, str) else None

    def _on_start(self, message: dict[str, Any]) -> None:
        if self.info is not None:
            self._report("duplicate_start", "a second start message was ignored")
            return
        start = message.get("start")
        if not isinstance(start, dict):
            self._report("invalid_message", "start message without a 'start' object")
            return
        sid = start.get("streamSid", message.get("streamSid"))
        if not isinstance(sid, str) or not sid:
            self._report("invalid_message", "start message without a streamSid")
            return
        params = start.get("customParameters")
        if params is not None and not isinstance(params, dict):
            self._report("invalid_message", "start.customParameters is not an object")
            params = None
        tracks = start.get("tracks")
        fmt = start.get("mediaFormat")
        media_format = fmt if isinstance(fmt, dict) else {}
        self.info = TwilioStreamInfo(
            stream_sid=sid,
            call_sid=_opt_str(start.get("callSid")),
            account_sid=_opt_str(start.get("accountSid")),
            tracks=tuple(t for t in tracks if isinstance(t, str))
            if isinstance(tracks, list)
            else (),
            custom_parameters={str(k): str(v) for k, v in (params or {}).items()},
            media_format=media_format,
        )
        encoding = str(media_format.get("encoding", "audio/x-mulaw")).lower()
        rate, channels = media_format.get("sampleRate", 8000), media_format.get("channels", 1)
        if encoding != "audio/x-mulaw" or rate != 8000 or channels != 1:
            self._report(
                "unsupported_media_format",
                f"mediaFormat {media_format} is not audio/x-mulaw 8000 Hz mono; "
                "treating the audio as that anyway",
            )
        log.info("Twilio stream %s started (call %s)", sid, self.info.call_sid)
        self.started.set()
        self._outbox_ready.set()

    def _on_media(self, message: dict[str, Any]) -> None:
        media = message.get("media")
        if not isinstance(media, dict):
            self._report("invalid_message", "media message without a 'media' object")
            return
        if self.info is None:
            self._report("media_before_start", "media before the start message was dropped")
            return
        track = media.get("track", "inbound")
        if track not in ("inbound", "inbound_track"):
            return  # the outbound track of a <Start><Stream track="both_tracks">: our own audio
        payload = media.get("payload")
        if not isinstance(payload, str):
            self._report("invalid_message", "media message without a payload string")
            return
        try:
            audio = b64decode_strict(payload)
        except ValueError as exc:
            self._report(
                "invalid_payload",
                f"media chunk {media.get('chunk')!r}: invalid base64 ({exc}): {_preview(payload)}",
            )
            return
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

    def _on_mark(self, message: dict[str, Any]) -> None:
        mark = message.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            self._report("invalid_message", "mark message without mark.name")
            return
        if self.marks.acknowledge(name) is None:
            log.debug("mark %r is not pending (cleared or not ours)", name)

    def _on_dtmf(self, message: dict[str, Any]) -> None:
        dtmf = message.get("dtmf")
        digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
        if not isinstance(digit, str) or not digit:
            self._report("invalid_message", "dtmf message without dtmf.digit")
            return
        self.dtmf_digits.append(digit)
        if self.on_dtmf is not None:
            self._call(self.on_dtmf, digit)

    def _on_stop(self, message: dict[str, Any]) -> None:
        log.info("Twilio stream %s stopped", self.stream_sid)
        self._ended("stop")

    _handlers: Final[dict[str, Callable[[TwilioChannel, dict[str, Any]], None]]] = {
        "connected": _on_connected,
        "start": _on_start,
        "media": _on_media,
        "mark": _on_mark,
        "dtmf": _on_dtmf,
        "stop": _on_stop,
    }

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
        sid = self.stream_sid
        if kind == "media" and isinstance(data, bytes):
            payload = encode_base64(data)
            return json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})
        if kind == "mark":
            return json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": data}})
        return json.dumps({"event": "clear", "streamSid": sid})

    # -- reporting -----------------------------------------------------------------------------

    def _report(self, kind: ErrorKind, message: str) -> None:
        error = TwilioStreamError(kind, message)
        log.warning("Twilio stream %s: %s", self.stream_sid or "(not started)", error)
        self.error_count += 1
        self.errors.append(error)
        if len(self.errors) > _MAX_ERRORS:
            del self.errors[0]
        if self.on_error is not None and kind != "callback_failed":
            self._call(self.on_error, error)

    def _call(self, callback: Callable[[Any], object], argument: Any) -> None:
        try:
            callback(argument)
        except Exception as exc:
            log.exception("Twilio channel callback %r failed", callback)
            self._report("callback_failed", f"{callback!r} raised {exc!r}")


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _preview(text: str, limit: int = 80) -> str:
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


# -- Starlette ---------------------------------------------------------------------------------


def twilio_route(
    path: str,
    handler: Callable[[TwilioChannel], Awaitable[None]],
    *,
    channel_factory: Callable[[WebSocket], TwilioChannel] | None = None,
    name: str | None = None,
) -> WebSocketRoute:
    """A Starlette WebSocket route for Twilio Media Streams: each connection gets a
    :class:`TwilioChannel` (from ``channel_factory``, default ``TwilioChannel(websocket)``),
    accepted, passed to ``handler``, and closed when the handler returns or raises.
    See the module docstring for a complete app."""
    from starlette.routing import WebSocketRoute

    make = channel_factory or TwilioChannel

    async def twilio_media_stream(websocket: WebSocket) -> None:
        channel = make(websocket)
        try:
            await channel.accept()
            await handler(channel)
        finally:
            await channel.close()

    return WebSocketRoute(path, twilio_media_stream, name=name)
