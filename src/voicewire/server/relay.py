"""One client connection: OpenAI Realtime wire events in, a server-side RealtimeSession behind.

Every 20 ms audio frame of every session crosses the relay twice, so its hot path avoids what a
loaded server measurably pays for: it works on the raw ASGI ``receive`` / ``send`` of the accepted
WebSocket (no framework wrapper checking state on each message), and it takes session events
through a synchronous ``session.on("*")`` handler into an outbox rather than a second task
iterating the session. Whichever task produced an event sends it: the reader task after applying a
client frame (an in-process model answers within the call), otherwise a flusher task started on
demand. One outbox, drained by one flusher at a time, keeps every message in order.

Client frames are parsed, decoded with :func:`~voicewire.server.wire.decode_client` and applied
to the session; session events are encoded with a
:class:`~voicewire.server.encoder.ServerEventEncoder` and sent back. A bad frame (too large,
binary, malformed JSON, unknown or malformed event) is answered with an ``error`` event quoting
the client's ``event_id``, and the connection goes on.

The relay speaks for the session: it sends ``session.created`` once the session is connected and
``session.updated`` after each client ``session.update``, rendered from the session's config as
the client may see it (no server tools, and the agent's instructions only if the client set its
own). The model's own ``session.created`` / ``session.updated`` are not forwarded: the client's
session is the agent plus its overrides, not the provider's, and some models never confirm an
update. Tool failures are logged here, not sent: tools are the server's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from pydantic_core import from_json, to_json
from starlette.types import Receive, Send

from voicewire.protocol import (
    AudioInputAppend,
    ClientEvent,
    ConnectionClosedError,
    ItemCreate,
    ItemTruncate,
    RealtimeError,
    ResponseCancel,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdate,
    SessionUpdated,
    TransportStatus,
    VoiceConfig,
)
from voicewire.session import RealtimeSession, SessionEvent, StatusChanged, ToolOutput

from .encoder import Message, ServerEventEncoder
from .security import redact
from .wire import ClientEventError, client_event_id, decode_client

__all__ = ["CLIENT_SESSION_FIELDS", "Relay"]

log = logging.getLogger("voicewire.server")

CLIENT_SESSION_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "instructions",
        "modalities",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "turn_detection",
        "transcription",
        "tool_choice",
        "max_output_tokens",
    }
)
"""Session settings a client's ``session.update`` may change (tools never: they are the
agent's, and run on the server)."""

_NOT_FOR_THE_CLIENT: Final = (StatusChanged, ToolOutput, SessionCreated, SessionUpdated)
"""Session events the relay does not encode (it renders ``session.*`` events itself)."""
_MODEL_LOST: Final = object()
"""In the outbox: close the connection here, after what came before."""
_TOOL_CHOICE_MODES: Final = frozenset({"auto", "none", "required"})
_TOOL_ERROR_PREFIXES: Final = ("tool_", "unknown_tool")


class Relay:
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
    ) -> None:
        self._receive = receive
        self._send_asgi = send
        self.session = session
        self.encoder = ServerEventEncoder(model=model_name)
        self.max_frame_bytes = max_frame_bytes
        self.client_fields = frozenset(client_fields)
        self.label = label
        self.connect_timeout = connect_timeout
        self._client_instructions: str | None = None
        self._closed = False
        self._outbox: deque[Mapping[str, Any] | object] = deque()
        self._started = False  # session.created has been sent: the outbox may go out
        self._applying = False  # the reader task is applying a client frame
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Connect the session, relay both ways, and close the session when the client leaves."""
        unsubscribe = self.session.on("*", self._on_session_event)
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self.session.connect()
            except Exception as exc:
                log.warning(
                    "%s: the session could not connect to its model: %s",
                    self.label,
                    redact(f"{type(exc).__name__}: {exc}"),
                )
                self._outbox.clear()
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
                return
            self.encoder.config = self._client_view()
            self._outbox.appendleft(self.encoder.encode(SessionCreated(self.session.session_id))[0])
            self._started = True
            await self._flush()
            await self._read()
        finally:
            await self.session.close()
            unsubscribe()
            if self._flusher is not None:
                self._flusher.cancel()
                await asyncio.gather(self._flusher, return_exceptions=True)

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
            text = message.get("text")
            if text is None:
                data = message.get("bytes") or b""
                if len(data) > self.max_frame_bytes:
                    await self._frame_too_large(len(data))
                else:
                    await self._reject(
                        "invalid_frame", "binary frames are not supported; send JSON text frames"
                    )
                continue
            await self._on_text(text)
            if self._closed:
                return

    async def _on_text(self, text: str) -> None:
        size = len(text)
        if size <= self.max_frame_bytes < 4 * size:
            size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_frame_bytes:
            await self._frame_too_large(size)
            return
        try:
            message = from_json(text, allow_inf_nan=False)  # NaN/Infinity: not JSON
        except ValueError as exc:
            await self._reject("invalid_json", f"the frame is not valid JSON: {exc}")
            return
        try:
            events = decode_client(message)
        except ClientEventError as exc:
            await self._reject(
                exc.code, exc.message, event_id=client_event_id(message), param=exc.param
            )
            return
        for event in events:
            self._applying = True
            try:
                replies = self._apply(event)
            except ConnectionClosedError as exc:
                await self._reject(exc.code, exc.message, event_id=client_event_id(message))
                await self._close(1011, "session closed")
                return
            except RealtimeError as exc:
                error = redact(exc.message)
                await self._reject(exc.code, error, event_id=client_event_id(message))
                continue
            finally:
                self._applying = False
            self._outbox.extend(replies)
            if self._outbox:
                await self._flush()  # what the frame caused, in this task: no hop

    async def _frame_too_large(self, size: int) -> None:
        await self._reject(
            "frame_too_large",
            f"the frame is {size} bytes, over this server's limit of {self.max_frame_bytes}; "
            "send audio in smaller input_audio_buffer.append chunks",
        )

    def _apply(self, event: ClientEvent) -> list[Message]:
        session = self.session
        if isinstance(event, AudioInputAppend):
            session.send_audio(event.audio)
        elif isinstance(event, SessionUpdate):
            return self._update(event.config)
        elif isinstance(event, ItemCreate):
            session.add_item(event.item, event.previous_item_id)
        elif isinstance(event, ResponseCancel):
            # Also cancels the agent's running tools, which a plain cancel would leave running.
            session.interrupt()
        elif isinstance(event, ItemTruncate):
            session.report_playback(event.item_id, event.audio_end_ms)
            self._forward(event)
        else:
            self._forward(event)
        return []

    def _forward(self, event: ClientEvent) -> None:
        """Send a client event to the model as is (delete, truncate, a commit without the
        session's automatic response.create, response.create with per-response settings)."""
        self.session.send(event)

    def _update(self, config: SessionConfig) -> list[Message]:
        current = self.session.config
        changes: dict[str, Any] = {}
        for name in sorted(CLIENT_SESSION_FIELDS):
            value = getattr(config, name)
            if value is None:
                continue
            if name not in self.client_fields:
                log.debug("%s: the client may not change %s; ignored", self.label, name)
                continue
            changes[name] = value
        voice = changes.get("voice")
        if isinstance(voice, VoiceConfig) and current.voice is not None:
            changes["voice"] = VoiceConfig(
                voice.voice_id or current.voice.voice_id,
                current.voice.speed if voice.speed is None else voice.speed,
            )
        if config.tools:
            log.info(
                "%s: ignored %d tool(s) declared by the client: the agent's tools run on the "
                "server",
                self.label,
                len(config.tools),
            )
        if changes:
            self.session.update(**changes)
            if "instructions" in changes:
                self._client_instructions = changes["instructions"]
        self.encoder.config = self._client_view()
        return self.encoder.encode(SessionUpdated(self.session.session_id))

    def _client_view(self) -> SessionConfig:
        """The session as the client is shown it: no server tools, and instructions only if the
        client set them (the agent's may be private)."""
        config = self.session.config
        choice = config.tool_choice if config.tool_choice in _TOOL_CHOICE_MODES else None
        return replace(
            config,
            tools=(),
            tool_choice=choice,
            instructions=self._client_instructions,
            provider_options={},
        )

    # -- session -> client -----------------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        """Every session event, synchronously, in the task that produced it: encode it into the
        outbox, and see that the outbox goes out."""
        if isinstance(event, _NOT_FOR_THE_CLIENT):
            if not (
                isinstance(event, StatusChanged) and event.status is TransportStatus.DISCONNECTED
            ):
                return
            self._outbox.append(_MODEL_LOST)
        elif isinstance(event, SessionError) and event.code.startswith(_TOOL_ERROR_PREFIXES):
            log.warning("%s: tool error %s: %s", self.label, event.code, redact(event.message))
            return
        else:
            messages = self.encoder.encode(event)
            if not messages:
                return
            self._outbox.extend(messages)
        idle = self._flusher is None or self._flusher.done()
        if self._started and idle and not self._applying and not self._flushing:
            self._flusher = asyncio.create_task(self._flush(), name=f"voicewire-relay-{self.label}")

    # -- sending ---------------------------------------------------------------------------------

    async def _reject(
        self, code: str, message: str, *, event_id: str | None = None, param: str | None = None
    ) -> None:
        log.info("%s: rejected a client frame: %s", self.label, code)
        await self._send([self.encoder.error(code, message, event_id=event_id, param=param)])

    async def _send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Send ``messages`` after what the outbox already holds."""
        self._outbox.extend(messages)
        await self._flush()

    async def _flush(self) -> None:
        """Send the outbox in order. One flusher at a time: while one is paused (the socket
        is full), another caller returns at once and its messages go out after the first's."""
        if self._flushing or not self._started:
            return
        self._flushing = True
        outbox, send = self._outbox, self._send_asgi
        try:
            while outbox and not self._closed:
                message = outbox.popleft()
                if message is _MODEL_LOST:
                    await self._close(1011, "the model connection was lost")
                    break
                try:
                    # pydantic-core's serializer: ~7x faster than json.dumps on an audio delta,
                    # the commonest frame.
                    text = to_json(message).decode()
                    await send({"type": "websocket.send", "text": text})
                except (OSError, RuntimeError):  # the client is gone (uvicorn: an OSError)
                    self._closed = True
            if self._closed:
                outbox.clear()
        finally:
            self._flushing = False

    async def _close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self._send_asgi({"type": "websocket.close", "code": code, "reason": reason})
