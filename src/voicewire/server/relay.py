"""One client connection: OpenAI Realtime wire events in, a server-side RealtimeSession behind.

Every 20 ms audio frame of every session crosses the relay twice, so its hot path avoids what a
loaded server measurably pays for: it works on the raw ASGI ``receive`` / ``send`` of the accepted
WebSocket (no framework wrapper checking state on each message), and it takes session events
through a synchronous ``session.on("*")`` handler into an outbox rather than a second task
iterating the session. Whichever task produced an event sends it: the reader task after applying a
client frame (an in-process model answers within the call), otherwise a flusher task started on
demand. One outbox, drained by one flusher at a time, keeps every message in order.

Client frames are parsed, decoded with
:func:`~voicewire.openai_wire.server_decoder.decode_client` and applied to the session; session
events are encoded with a :class:`~voicewire.openai_wire.server_encoder.ServerEventEncoder` and
sent back. A bad frame (too large, binary, malformed JSON, unknown or malformed event) is
answered with an ``error`` event quoting the client's ``event_id``, and the connection goes on.
So does it after a failure nobody foresaw (a bug in the decoder or behind the session): that
event alone is answered with a ``server_error`` / ``internal_error``, its traceback logged
(redacted) on the server. Nothing the
server sends is ever anything but JSON (a non-finite number would go out as ``null``).

The relay speaks for the session: it sends ``session.created`` once the session is connected and
``session.updated`` after each client ``session.update``, rendered from the session's config as
the client may see it (no server tools, and the agent's instructions only if the client set its
own). The model's own ``session.created`` / ``session.updated`` are not forwarded: the client's
session is the agent plus its overrides, not the provider's, and some models never confirm an
update. Tool failures are logged here, not sent: tools are the server's business.

Each client event is answered as OpenAI answers it, stood in for where the model cannot take it,
or refused with OpenAI's error: see :mod:`.client_events`.

**A client that does not read** must not pin memory nor a model session. Messages are
serialised as they enter the outbox, which counts their bytes (:attr:`Relay.outbox_bytes`):

* Backpressure: while the outbox holds more than half of ``max_outbox_bytes``, the relay stops
  reading the client's frames (so a client that keeps asking cannot grow it, and TCP flow
  control slows its sends) until it has drained to a quarter.
* A client is *too slow* when a message that would take the outbox over ``max_outbox_bytes``
  arrives (the model does not wait for the client), or when messages wait and none has been
  handed to the socket for ``send_timeout`` seconds (as nginx's ``send_timeout``: between two
  successive writes, not for a whole reply): see :mod:`.send_watchdog`.
* A too-slow client is closed with **1008** (policy violation) and a reason saying which limit
  it hit: it broke the server's policy of reading what it asked for, and 1013 (try again later)
  would invite the same client to reconnect into the same wall. Its outbox is dropped, its
  session is closed (and the model link with it) *before* the close frame is attempted, and the
  close frame itself waits at most ``close_timeout`` for room in a socket nobody drains; after
  that the relay returns and the ASGI server is left with what its own write buffer holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Final

from pydantic_core import from_json, to_json
from starlette.types import Receive, Send

from voicewire.openai_wire.server_decoder import (
    ClientEventError,
    client_event_id,
    decode_client,
)
from voicewire.openai_wire.server_encoder import ServerEventEncoder
from voicewire.protocol import (
    AudioOutputDelta,
    ConnectionClosedError,
    RealtimeError,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdated,
    SpeechStarted,
    TransportStatus,
)
from voicewire.session import RealtimeSession, SessionEvent, StatusChanged, ToolOutput

from .client_events import ClientEvents
from .client_session import CLIENT_SESSION_FIELDS
from .model_gaps import ModelGaps
from .security import redact
from .send_watchdog import SendState, SendWatchdog

__all__ = ["CLIENT_SESSION_FIELDS", "DEFAULT_MAX_OUTBOX_BYTES", "SLOW_CLIENT_CLOSE_CODE", "Relay"]

log = logging.getLogger("voicewire.server")

_NOT_FOR_THE_CLIENT: Final = (StatusChanged, ToolOutput, SessionCreated, SessionUpdated)
"""Session events the relay does not encode (it renders ``session.*`` events itself)."""


def _ignore(code: str) -> None:
    """The default :attr:`Relay.on_error`."""


class _Marker(bytes):
    """An outbox entry that is not a message (told apart by identity; 0 bytes)."""


_MODEL_LOST: Final = _Marker()
"""In the outbox: close the connection here, after what came before."""
DEFAULT_MAX_OUTBOX_BYTES: Final = 4 << 20
"""About a minute of 24 kHz PCM16 audio in base64, beyond what the socket buffers hold."""
SLOW_CLIENT_CLOSE_CODE: Final = 1008
"""Policy violation: the client did not read what it asked for (see the module docstring)."""
_TOOL_ERROR_PREFIXES: Final = ("tool_", "unknown_tool")


class Relay(ClientEvents):
    """Relays one accepted WebSocket to one :class:`RealtimeSession` until either side ends."""

    def __init__(
        self,
        receive: Receive,
        send: Send,
        session: RealtimeSession,
        *,
        model_name: str,
        max_frame_bytes: int,
        client_fields: Collection[str] = CLIENT_SESSION_FIELDS,
        label: str = "client",
        connect_timeout: float = 15.0,
        max_outbox_bytes: int = DEFAULT_MAX_OUTBOX_BYTES,
        send_timeout: float = 5.0,
        close_timeout: float = 2.0,
    ) -> None:
        self._receive = receive
        self._send_asgi = send
        self.session = session
        self.encoder = ServerEventEncoder(model=model_name)
        self.max_frame_bytes = max_frame_bytes
        self.client_fields = frozenset(client_fields)
        self.label = label
        self.connect_timeout = connect_timeout
        self.max_outbox_bytes = max_outbox_bytes
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        self._client_instructions: str | None = None
        self._closed = False
        self._outbox: deque[bytes] = deque()  # serialised messages, and _MODEL_LOST
        self._outbox_bytes = 0
        self._outbox_peak = 0
        self._high_water = max_outbox_bytes // 2  # above it the reader pauses...
        self._low_water = max_outbox_bytes // 4  # ... until the outbox is down to this
        self._paused: asyncio.Event | None = None  # set when the paused reader may go on
        self._sent = 0  # messages handed to the socket: the watchdog's progress counter
        self.frames_in = 0  # messages received from the client (for the metrics)
        self.close_sent: tuple[int, str] | None = None  # the close frame sent, if one was
        self.on_error: Callable[[str], None] = _ignore  # called with each error code sent
        self._watchdog: SendWatchdog | None = None
        self._too_slow: str | None = None  # why the client was given up on
        self._close_code = SLOW_CLIENT_CLOSE_CODE  # and the code it is closed with
        self._reader: asyncio.Task[Any] | None = None
        self._create_mark: int | None = None  # encoder.responses_started at the last create
        self._started = False  # session.created has been sent: the outbox may go out
        self._applying = False  # the reader task is applying a client frame
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None
        self._gaps = ModelGaps(session, self.encoder)  # what the model cannot take or tell
        self._untold: SpeechStarted | None = None  # see _tell_untold
        # A resumed session (see voicewire.server.resume): the settings to restore, the item
        # ids restored (the client's own replay of them is not passed on twice), and what runs
        # once the session is closed, before the close frame (the last conversation writes).
        self.restored_config: SessionConfig | None = None
        self.restored_ids: frozenset[str] = frozenset()
        self.before_close: Callable[[], Awaitable[None]] | None = None

    @property
    def outbox_bytes(self) -> int:
        """Bytes of serialised messages waiting to be handed to the socket."""
        return self._outbox_bytes

    @property
    def outbox_peak_bytes(self) -> int:
        """The most :attr:`outbox_bytes` has been (it never exceeds ``max_outbox_bytes``)."""
        return self._outbox_peak

    @property
    def frames_out(self) -> int:
        """Messages handed to the client's socket."""
        return self._sent

    async def run(self) -> None:
        """Connect the session, relay both ways, and close the session when the client leaves
        (or is given up on: see the module docstring)."""
        self._reader = asyncio.current_task()
        unsubscribe = self.session.on("*", self._on_session_event)
        try:
            if await self._start():
                self._watchdog = SendWatchdog(self.send_timeout, self._send_state, self._give_up)
                await self._read()
        except asyncio.CancelledError:
            # The watchdog stops a reader blocked in receive() or send() this way; any other
            # cancellation goes on.
            reader = self._reader
            if self._too_slow is None or reader is None or reader.uncancel() > 0:
                raise
        finally:
            # The client is gone or given up: nothing may cancel this task (the reader) from
            # here on, or the session's close would be cut short and its model link leak.
            self._closed = True
            self._reader = None
            if self._watchdog is not None:
                self._watchdog.stop()
            unsubscribe()
            await self.session.close()
            if self.before_close is not None:
                await self.before_close()
            if self._flusher is not None:
                self._flusher.cancel()
                await asyncio.gather(self._flusher, return_exceptions=True)
            if self._too_slow is not None:
                await self._send_close(self._close_code, self._too_slow)

    async def _start(self) -> bool:
        """Connect the session and send ``session.created`` (or an error and a close)."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self.session.connect()
        except Exception as exc:
            log.warning(
                "%s: the session could not connect to its model: %s",
                self.label,
                redact(f"{type(exc).__name__}: {exc}"),
            )
            self._drop_outbox()
            self._started = True
            await self._send(
                [
                    self.encoder.error(
                        "model_unavailable",
                        "the server could not start a session with its model",
                        error_type="server_error",
                    )
                ]
            )
            await self._close(1011, "model unavailable")
            return False
        if self.restored_config is not None:  # its session.updated: session.created says it
            try:
                self._update(self.restored_config)
            except RealtimeError as exc:
                log.warning("%s: the resumed settings were not all restored: %s", self.label, exc)
        self.encoder.config = self._shown()
        created = to_json(self.encoder.encode(SessionCreated(self.session.session_id))[0])
        self._outbox.appendleft(created)
        self._outbox_bytes += len(created)
        self._started = True
        await self._flush()
        return True

    # -- client -> session -----------------------------------------------------------------------

    async def _read(self) -> None:
        receive = self._receive
        while True:
            try:
                message = await receive()
            except (OSError, RuntimeError):
                return
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect
            self.frames_in += 1
            text = message.get("text")
            if text is None:
                data = message.get("bytes") or b""
                if len(data) > self.max_frame_bytes:
                    self._frame_too_large(len(data))
                else:
                    self._refuse(
                        "invalid_frame", "binary frames are not supported; send JSON text frames"
                    )
            elif not self._take(text):
                await self._flush()  # the refusal first
                await self._close(1011, "session closed")
                return
            if self._outbox:
                await self._flush()  # what the frame caused, in this task: no hop
            if self._closed:
                return
            if self._outbox_bytes > self._high_water:
                await self._drain()
                if self._closed:
                    return

    async def _drain(self) -> None:
        """Backpressure: read no more of the client until the outbox is down to the low water
        mark (a flusher task is sending it: the reader's own flush returned while it was busy)."""
        log.debug("%s: the client is behind; reading paused", self.label)
        paused = self._paused = asyncio.Event()
        try:
            await paused.wait()
        finally:
            self._paused = None

    def _take(self, text: str) -> bool:
        """Parse, decode and apply one client text frame, putting what it causes (replies,
        refusals, the in-process model's answer) in the outbox for the reader to send; not a
        coroutine, as it never waits. ``False`` when the session is closed: the connection
        must close."""
        size = len(text)
        if size <= self.max_frame_bytes < 4 * size:
            size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_frame_bytes:
            self._frame_too_large(size)
            return True
        try:
            message = from_json(text, allow_inf_nan=False)  # NaN/Infinity: not JSON
        except ValueError as exc:
            self._refuse("invalid_json", f"the frame is not valid JSON: {exc}")
            return True
        try:
            events = decode_client(message)
        except ClientEventError as exc:
            self._refuse(exc.code, exc.message, event_id=client_event_id(message), param=exc.param)
            return True
        except Exception:  # a decoder bug: this frame fails, the connection goes on
            log.exception("%s: decoding a client frame failed", self.label)
            self._internal_error(client_event_id(message))
            return True
        for event in events:
            self._applying = True
            try:
                replies = self._apply(event)
            except ConnectionClosedError as exc:
                self._refuse(exc.code, exc.message, event_id=client_event_id(message))
                return False
            except RealtimeError as exc:
                error = redact(exc.message)
                self._refuse(exc.code, error, event_id=client_event_id(message))
                continue
            except Exception:  # a bug behind the session: this event fails, the rest go on
                log.exception("%s: applying %s failed", self.label, type(event).__name__)
                self._internal_error(client_event_id(message))
                continue
            finally:
                self._applying = False
            if replies:
                self._enqueue(replies)
        return True

    def _frame_too_large(self, size: int) -> None:
        self._refuse(
            "frame_too_large",
            f"the frame is {size} bytes, over this server's limit of {self.max_frame_bytes}; "
            "send audio in smaller input_audio_buffer.append chunks",
        )

    # -- session -> client -----------------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        """Every session event, synchronously, in the task that produced it: encode it into the
        outbox, and see that the outbox goes out."""
        if type(event) is AudioOutputDelta and self._untold is None:
            # The hot path: an audio delta is for the client, and ModelGaps.observe ignores it.
            if self._closed:
                return
            for message in self.encoder.encode(event):  # one, unless it starts an item
                if not self._enqueue_one(message):
                    return
        elif isinstance(event, _NOT_FOR_THE_CLIENT):
            if not (
                isinstance(event, StatusChanged) and event.status is TransportStatus.DISCONNECTED
            ):
                return
            self._outbox.append(_MODEL_LOST)
        elif isinstance(event, SessionError) and event.code.startswith(_TOOL_ERROR_PREFIXES):
            log.warning("%s: tool error %s: %s", self.label, event.code, redact(event.message))
            return
        else:
            untold, self._untold = self._untold, None
            if untold is not None and not isinstance(event, SpeechStarted):
                self._on_session_event(untold)  # before what follows it
            speech = self._gaps.observe(event, by_client=self._applying)
            if speech is not None:  # held until the session has done with this event
                self._untold = speech
                asyncio.get_running_loop().call_soon(self._tell_untold)
            messages = self.encoder.encode(event)
            if not messages or self._closed:
                return
            self._enqueue(messages)
        if self._applying or self._flushing or not self._started:
            return  # the reader, or the flusher under way, sends it
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name=f"voicewire-relay-{self.label}")

    def _tell_untold(self) -> None:
        """Tell the client of the speech the model stopped for but did not report (see
        :meth:`.ModelGaps.observe`), unless the model's own ``speech.started`` followed the
        interruption (a session cuts the answer before it passes that event on)."""
        untold, self._untold = self._untold, None
        if untold is not None and not self._closed:
            self._on_session_event(untold)

    # -- sending ---------------------------------------------------------------------------------

    def _refuse(
        self, code: str, message: str, *, event_id: str | None = None, param: str | None = None
    ) -> None:
        """Put an ``error`` event refusing a client frame in the outbox."""
        log.info("%s: rejected a client frame: %s", self.label, code)
        self.on_error(code)
        self._enqueue([self.encoder.error(code, message, event_id=event_id, param=param)])

    def _internal_error(self, event_id: str | None) -> None:
        self.on_error("internal_error")
        self._enqueue(
            [
                self.encoder.error(
                    "internal_error",
                    "the server failed to handle this event; the connection goes on",
                    event_id=event_id,
                    error_type="server_error",
                )
            ]
        )

    async def _send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Send ``messages`` after what the outbox already holds."""
        self._enqueue(messages)
        await self._flush()

    def _enqueue(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Serialise ``messages`` into the outbox, or give the client up if they do not fit."""
        for message in messages:
            if not self._enqueue_one(message):
                return

    def _enqueue_one(self, message: Mapping[str, Any]) -> bool:
        """Serialise ``message`` into the outbox; ``False`` when it does not fit (the client is
        given up on)."""
        # pydantic-core's serializer: ~7x faster than json.dumps on an audio delta, the
        # commonest frame.
        data = to_json(message, inf_nan_mode="null")  # never non-JSON, whatever slips in
        size = self._outbox_bytes + len(data)
        if size > self.max_outbox_bytes:
            self._give_up(f"client too slow: over {self.max_outbox_bytes} bytes waiting to be sent")
            return False
        self._outbox.append(data)
        self._outbox_bytes = size
        if size > self._outbox_peak:
            self._outbox_peak = size
        return True

    async def _flush(self) -> None:
        """Send the outbox in order. One flusher at a time: while one is paused (the socket
        is full), another caller returns at once and its messages go out after the first's."""
        if self._flushing or not self._started:
            return
        self._flushing = True
        outbox, send = self._outbox, self._send_asgi
        try:
            while outbox and not self._closed:
                data = outbox.popleft()
                if data is _MODEL_LOST:
                    await self._close(1011, "the model connection was lost")
                    break
                self._outbox_bytes -= len(data)
                try:
                    await send({"type": "websocket.send", "text": data.decode()})
                except (OSError, RuntimeError):  # the client is gone (uvicorn: an OSError)
                    self._closed = True
                self._sent += 1
                if self._paused is not None and self._outbox_bytes <= self._low_water:
                    self._paused.set()
        finally:
            self._flushing = False
            if self._closed:
                self._drop_outbox()
            if self._paused is not None and (self._closed or not outbox):
                self._paused.set()

    def _send_state(self) -> SendState:
        return SendState(self._closed, self._sent, self._flushing)

    def _drop_outbox(self) -> None:
        self._outbox.clear()
        self._outbox_bytes = 0

    def end(self, code: int, reason: str) -> None:
        """End the connection from outside (a limit, a drain) as a too-slow client's is ended:
        the session closes, then the client gets ``code`` and ``reason``."""
        self._close_code = code
        self._give_up(reason)

    def _give_up(self, reason: str) -> None:
        """Stop serving a client that does not read: drop its outbox and stop the tasks that
        wait on it; :meth:`run` then closes the session and the connection (1008)."""
        if self._closed:
            return
        log.warning(
            "%s: %s (%d bytes waiting); closing with %d",
            self.label,
            reason,
            self._outbox_bytes,
            self._close_code,
        )
        self._closed = True
        self._too_slow = reason
        self._drop_outbox()
        current = asyncio.current_task()
        for task in (self._flusher, self._reader):
            if task is not None and task is not current and not task.done():
                task.cancel()

    async def _close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        await self._send_close(code, reason)

    async def _send_close(self, code: int, reason: str) -> None:
        """Send a close frame, waiting at most ``close_timeout`` for room in the socket."""
        self.close_sent = (code, reason)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.close_timeout):
                await self._send_asgi({"type": "websocket.close", "code": code, "reason": reason})
