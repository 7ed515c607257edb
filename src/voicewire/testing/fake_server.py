"""A scripted fake realtime server that speaks the OpenAI Realtime GA protocol (or xAI's dialect)
over a real WebSocket on 127.0.0.1.

Usage::

    async with FakeRealtimeServer(dialect="openai", api_key="sk-test") as server:
        server.script.on("weather", ToolCallReply("get_weather", {"city": "Paris"},
                                                  then=AudioReply("It is sunny.")))
        url = f"{server.base_url}/realtime?model=gpt-realtime"
        ...  # connect a client with "Authorization: Bearer sk-test"
        assert server.violations == []

What it does, in the order a client meets it:

* Handshake. The path must be ``/v1/realtime`` and (OpenAI) a ``model`` query parameter must be
  present, else HTTP 400. The client authenticates with ``Authorization: Bearer <key>`` or the
  subprotocol ``<dialect.token_subprotocol_prefix><key>``, where key is ``api_key`` or one of
  ``valid_tokens``; otherwise HTTP 401 with an OpenAI-style JSON error body. The server selects
  ``realtime`` when offered (OpenAI clients offer it next to the token), else the token
  subprotocol.
* Greeting. OpenAI: ``session.created`` with a full GA session (``type: "realtime"``, the model
  from the query, audio/pcm 24 kHz in and out, voice ``marin``, server VAD with
  ``silence_duration_ms: 200``, no input transcription). It carries no ``id`` / ``object`` /
  ``expires_at``: the SDK's session model does not declare them, so strict validation would flag
  them. xAI: ``conversation.created``, then ``session.updated``.
* Client events are recorded in :attr:`FakeRealtimeServer.received` and validated strictly (see
  :mod:`voicewire.testing.validation`); failures go to :attr:`FakeRealtimeServer.violations`. For
  OpenAI an invalid event is answered with an ``error`` event (``unknown_parameter``,
  ``missing_required_parameter`` or ``invalid_value``) and not applied, as the real API does;
  for xAI it is recorded and applied as far as possible. Malformed JSON, binary frames and
  unknown event types get an ``error`` event too; the connection keeps serving.
* ``session.update`` merges into the session (``audio.input`` / ``audio.output`` key by key,
  everything else replaced) and answers ``session.updated`` with the whole merged session.
* ``conversation.item.create`` -> ``conversation.item.added`` then ``conversation.item.done``;
  ``conversation.item.delete`` -> ``conversation.item.deleted``; ``conversation.item.retrieve``
  -> ``conversation.item.retrieved``; ``conversation.item.truncate`` ->
  ``conversation.item.truncated``, or an ``error`` (also a violation) when ``audio_end_ms``
  exceeds the audio actually sent for that item.
* Input audio. ``input_audio_buffer.append`` audio is base64-decoded into
  :attr:`FakeRealtimeServer.input_audio`. With server VAD (``server_vad`` or ``semantic_vad``),
  10 ms frames whose RMS is at least ``vad_rms_threshold`` are speech: the first one sends
  ``input_audio_buffer.speech_started`` (and cancels an active response when
  ``interrupt_response`` is true, the default); ``silence_duration_ms`` of quiet frames then
  sends ``speech_stopped``, ``committed``, ``conversation.item.added`` and
  ``conversation.item.done`` (a user message with one ``input_audio`` part), the input
  transcription and, when ``create_response`` is true, a response. With ``turn_detection:
  null``, ``input_audio_buffer.commit`` commits (at least 100 ms, else
  ``input_audio_buffer_commit_empty``) and ``input_audio_buffer.clear`` clears.
* Input transcription. What the fake "hears" is :meth:`Script.next_transcript`. As in the real
  API, OpenAI sends ``conversation.item.input_audio_transcription.delta`` (one per word) and
  ``.completed`` only when ``audio.input.transcription`` is set; xAI always sends ``.completed``.
* Responses (``response.create``, or VAD). The reply comes from :attr:`script` (see
  :mod:`voicewire.testing.script`). :class:`TextReply` always answers in text;
  :class:`AudioReply` answers in audio unless the output modalities are ``["text"]``.
  ``response.create``'s ``response`` object may override ``output_modalities``,
  ``audio.output.format`` / ``voice``, ``max_output_tokens`` and ``metadata`` (echoed);
  ``conversation: "none"`` makes an out-of-band response (its item is not added to the
  conversation, ``conversation_id`` is null) and ``input`` replaces the conversation when choosing
  the reply. Each response has exactly one output item (``output_index`` 0). A message
  response sends ``response.created``, ``response.output_item.added``,
  ``conversation.item.added``, ``response.content_part.added``, the deltas, then
  ``response.output_audio.done`` + ``response.output_audio_transcript.done`` (or the text done
  event), ``response.content_part.done``, ``response.output_item.done``,
  ``conversation.item.done`` and ``response.done`` with a usage object. A tool call sends
  ``response.function_call_arguments.delta`` events and ``.done`` instead of the content part.
  ``response.cancel`` (or barge-in) stops streaming and still sends the done events, with item
  status ``incomplete`` and ``response.done`` status ``cancelled`` (``status_details.reason``
  ``client_cancelled`` or ``turn_detected``). Only one response runs at a time
  (``conversation_already_has_active_response``); ``response.cancel`` without one is an
  ``error`` (``response_cancel_not_active``). ``output_audio_buffer.clear`` (WebRTC/SIP only in
  the real API) is answered with an ``error``.

xAI differences: no ``session.type``; ``voice`` and ``turn_detection`` at the top of the session;
text deltas ``response.text.delta`` / ``.done``; no ``conversation.item.done``, no
``response.function_call_arguments.delta``, no transcription deltas; ``previous_item_id`` is
always null; ``conversation.item.truncate`` / ``.retrieve`` and ``output_audio_buffer.clear``
are answered with an ``error`` (and recorded as violations); the ``model`` query parameter is
optional.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import itertools
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voicewire.providers.openai_protocol.dialect import OPENAI, XAI, Dialect

from . import tones
from .energy_vad import (
    DEFAULT_PREFIX_PADDING_MS,
    DEFAULT_SILENCE_MS,
    EnergyVad,
    SpeechStart,
    VadSettings,
)
from .responder import (
    WORDS,
    ResponseRun,
    answers_in_text,
    choose_reply,
    speech_chunks,
    stream_speech,
    stream_text,
)
from .script import AudioReply, Reply, Script, TextReply, ToolCallReply
from .validation import validate_client_event, xai_client_event_to_openai

__all__ = ["FakeRealtimeServer"]

_logger = logging.getLogger(__name__)

_MIN_COMMIT_MS = 100.0
_CANCEL_TIMEOUT_S = 5.0
_CLOSE_TIMEOUT_S = 5.0
_MAX_MESSAGE_BYTES = 16 * 2**20
_XAI_UNSUPPORTED = frozenset(
    {"conversation.item.truncate", "conversation.item.retrieve", "output_audio_buffer.clear"}
)

_Event = dict[str, Any]


@dataclass(eq=False)
class _Connection:
    ws: ServerConnection
    session: dict[str, Any]
    conversation_id: str
    items: list[dict[str, Any]] = field(default_factory=list)
    heard: dict[str, str] = field(default_factory=dict)
    calls: dict[str, ToolCallReply] = field(default_factory=dict)
    audio_sent_ms: dict[str, float] = field(default_factory=dict)
    vad: EnergyVad = field(default_factory=EnergyVad)
    user_audio_ms: float = 0.0
    response: ResponseRun | None = None
    closed: bool = False


@dataclass(eq=False)
class _Run:
    conn: _Connection
    resp: ResponseRun
    out_of_band: bool

    @property
    def cancelled(self) -> bool:
        return self.resp.cancelled


class FakeRealtimeServer:
    """A scripted Realtime server on ``ws://127.0.0.1:<port>/v1`` for end-to-end tests.

    Args:
        dialect: ``"openai"``, ``"xai"`` or a :class:`Dialect` (anything not named ``xai`` is
            served as OpenAI GA).
        api_key: the key clients must present (Bearer header or token subprotocol).
        host, port: where to listen; port 0 picks a free port.
        script: the replies; a fresh :class:`Script` by default.
        vad_rms_threshold: PCM16 RMS (fraction of full scale) at or above which a 10 ms input
            frame counts as speech.

    Attributes:
        script: the :class:`Script` deciding replies and what user audio "says".
        valid_tokens: further accepted credentials (e.g. ephemeral tokens a test issued).
        received: every parsed client message, in order, over all connections.
        sent: every event the server sent (a JSON copy), in order, over all connections; raw
            text from :meth:`send_raw` is not recorded.
        errors: the ``error`` events among :attr:`sent`.
        input_audio: all appended input audio, base64-decoded, in the session input format.
        violations: problems in what clients sent: strict-validation failures, malformed JSON,
            binary frames, invalid base64 audio, truncation past the audio sent, and events the
            dialect does not support. Each entry starts with the client event type.
        undeclared_tool_calls: names of tools the script called that the session (or the
            response) never declared; a real model could not have called them.
        connection_count: WebSocket connections accepted so far.
        last_headers: handshake request headers of the latest attempt (accepted or not).
        last_subprotocol: subprotocol selected for the latest accepted connection.
        last_model: ``model`` query parameter of the latest accepted connection.
    """

    def __init__(
        self,
        dialect: Literal["openai", "xai"] | Dialect = "openai",
        api_key: str = "sk-test",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        script: Script | None = None,
        vad_rms_threshold: float = 0.02,
    ) -> None:
        if isinstance(dialect, str):
            if dialect not in ("openai", "xai"):
                raise ValueError(f"unknown dialect {dialect!r}; expected 'openai' or 'xai'")
            dialect = OPENAI if dialect == "openai" else XAI
        self.dialect: Dialect = dialect
        self.api_key = api_key
        self.host = host
        self.port = port
        self.script: Script = script if script is not None else Script()
        self.vad_rms_threshold = vad_rms_threshold
        self.valid_tokens: set[str] = set()
        self.received: list[_Event] = []
        self.sent: list[_Event] = []
        self.errors: list[_Event] = []
        self.input_audio = bytearray()
        self.violations: list[str] = []
        self.undeclared_tool_calls: list[str] = []
        self.connection_count = 0
        self.last_headers: Headers | None = None
        self.last_subprotocol: str | None = None
        self.last_model: str | None = None
        self._xai = dialect.name == "xai"
        self._default_model = "grok-voice-latest" if self._xai else "gpt-realtime"
        self._server: Server | None = None
        self._connections: list[_Connection] = []
        self._latest: _Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._received_changed = asyncio.Condition()
        self._handlers: dict[str, Callable[[_Connection, _Event, str | None], Awaitable[None]]] = {
            "session.update": self._on_session_update,
            "conversation.item.create": self._on_item_create,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "conversation.item.truncate": self._on_item_truncate,
            "input_audio_buffer.append": self._on_audio_append,
            "input_audio_buffer.commit": self._on_audio_commit,
            "input_audio_buffer.clear": self._on_audio_clear,
            "output_audio_buffer.clear": self._on_output_audio_clear,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
        }

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        """Start listening (``async with`` does this)."""
        if self._server is not None:
            return self
        self._server = await serve(
            self._serve_connection,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            max_size=_MAX_MESSAGE_BYTES,
            open_timeout=_CLOSE_TIMEOUT_S,
            close_timeout=_CLOSE_TIMEOUT_S,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Close every connection, stop listening and cancel all tasks (``async with`` does
        this). Bounded: gives up waiting after a few seconds."""
        server, self._server = self._server, None
        if server is None:
            return
        for conn in list(self._connections):
            if conn.response is not None and conn.response.task is not None:
                conn.response.task.cancel()
        server.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await server.wait_closed()
        except TimeoutError:
            _logger.warning("fake realtime server: connections did not close in time")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT_S)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- public helpers ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1``; clients connect to ``f"{base_url}/realtime?model=..."``."""
        if self._server is None:
            raise RuntimeError("the fake server is not running; use 'async with' or start()")
        return f"ws://{self.host}:{self.port}/v1"

    def url(self, model: str | None = None) -> str:
        """The realtime URL for ``model`` (default: gpt-realtime, or grok-voice-latest for xAI)."""
        return f"{self.base_url}/realtime?model={model or self._default_model}"

    @property
    def session(self) -> dict[str, Any]:
        """The session of the latest connection, as the dialect shows it (a copy)."""
        if self._latest is None:
            raise RuntimeError("no connection yet")
        return self._render_session(self._latest)

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """The conversation items of the latest connection, in order (a copy)."""
        if self._latest is None:
            raise RuntimeError("no connection yet")
        return copy.deepcopy(self._latest.items)

    @property
    def open_connections(self) -> int:
        """How many connections are live right now."""
        return len(self._connections)

    def received_types(self) -> list[str]:
        """The ``type`` of every received client message, in order."""
        return [str(event.get("type")) for event in self.received]

    def sent_types(self) -> list[str]:
        """The ``type`` of every sent server event, in order."""
        return [str(event.get("type")) for event in self.sent]

    async def wait_for_received(
        self,
        event_type: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded default is the point of this helper
    ) -> _Event:
        """Wait until ``count`` client messages of ``event_type`` have arrived; return the
        ``count``-th. Raises ``TimeoutError`` after ``timeout`` seconds."""

        def matches() -> list[_Event]:
            return [e for e in self.received if e.get("type") == event_type]

        async with asyncio.timeout(timeout), self._received_changed:
            await self._received_changed.wait_for(lambda: len(matches()) >= count)
        return matches()[count - 1]

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Send an arbitrary server event to every live connection (``event_id`` is added when
        missing). Raises ``RuntimeError`` when no connection is live."""
        for conn in self._live():
            with contextlib.suppress(ConnectionClosed):
                await self._send(conn, dict(event))

    async def send_raw(self, text: str | bytes) -> None:
        """Send a raw frame (e.g. ``'not json'``) to every live connection, unrecorded."""
        for conn in self._live():
            with contextlib.suppress(ConnectionClosed):
                await conn.ws.send(text)

    async def drop_connections(
        self, code: int = 1011, reason: str = "fake server dropped the connection"
    ) -> None:
        """Close every live connection from the server side (for reconnect tests)."""
        for conn in list(self._connections):
            await conn.ws.close(code, reason)

    # --- handshake ---------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.last_headers = request.headers
        url = urlsplit(request.path)
        if url.path.rstrip("/") != "/v1/realtime":
            return _reject(
                connection,
                HTTPStatus.BAD_REQUEST,
                f"Invalid URL path {url.path!r}; the realtime endpoint is /v1/realtime.",
                "invalid_url",
            )
        if not self._authorized(request.headers):
            return _reject(
                connection,
                HTTPStatus.UNAUTHORIZED,
                "Incorrect API key provided. Authenticate with 'Authorization: Bearer <key>' "
                f"or the subprotocol '{self.dialect.token_subprotocol_prefix}<key>'.",
                "invalid_api_key",
            )
        if not self._xai and not _query_model(request.path):
            return _reject(
                connection,
                HTTPStatus.BAD_REQUEST,
                "Missing required parameter: 'model'.",
                "missing_required_parameter",
            )
        return None

    def _authorized(self, headers: Headers) -> bool:
        accepted = {self.api_key, *self.valid_tokens}
        for value in headers.get_all("Authorization"):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip() in accepted:
                return True
        prefix = self.dialect.token_subprotocol_prefix
        return any(
            offered.startswith(prefix) and offered[len(prefix) :] in accepted
            for offered in _offered_subprotocols(headers)
        )

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        for name in self.dialect.extra_subprotocols:
            if name in offered:
                return Subprotocol(name)
        for name in offered:
            if name.startswith(self.dialect.token_subprotocol_prefix):
                return name
        return None

    # --- connection loop ---------------------------------------------------------------------

    async def _serve_connection(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        model = _query_model(path) or self._default_model
        conn = _Connection(
            ws=ws, session=self._default_session(model), conversation_id=self._new_id("conv")
        )
        self._connections.append(conn)
        self._latest = conn
        self.connection_count += 1
        self.last_subprotocol = ws.subprotocol
        self.last_model = model
        try:
            await self._greet(conn)
            async for message in ws:
                await self._on_message(conn, message)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            resp = conn.response
            if resp is not None and resp.task is not None:
                resp.task.cancel()
                await asyncio.wait({resp.task}, timeout=_CANCEL_TIMEOUT_S)
            self._connections.remove(conn)

    async def _greet(self, conn: _Connection) -> None:
        if self._xai:
            conversation = {"id": conn.conversation_id, "object": "realtime.conversation"}
            await self._send(conn, {"type": "conversation.created", "conversation": conversation})
        kind = "session.updated" if self._xai else "session.created"
        await self._send(conn, {"type": kind, "session": self._render_session(conn)})

    async def _on_message(self, conn: _Connection, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.violations.append("<binary frame>: the Realtime API takes JSON text frames only")
            await self._error(conn, "Binary frames are not supported; send JSON text.")
            return
        try:
            event = json.loads(message)
        except ValueError as exc:
            self.violations.append(f"<malformed JSON>: {exc}")
            await self._error(
                conn, f"The server failed to parse the event as JSON: {exc}", code="invalid_json"
            )
            return
        if not isinstance(event, dict):
            self.violations.append("<not an object>: a client event must be a JSON object")
            await self._error(conn, "A client event must be a JSON object.", code="invalid_json")
            return
        async with self._received_changed:
            self.received.append(event)
            self._received_changed.notify_all()
        await self._dispatch(conn, event)

    async def _dispatch(self, conn: _Connection, event: _Event) -> None:
        event_type = event.get("type")
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        problems = validate_client_event(event, self.dialect.name if self._xai else "openai")
        self.violations.extend(f"{event_type}: {problem}" for problem in problems)
        handler = self._handlers.get(event_type) if isinstance(event_type, str) else None
        if handler is None:
            if not problems:  # validation unavailable (no openai package)
                self.violations.append(f"{event_type}: unknown event type")
            supported = ", ".join(f"'{name}'" for name in self._handlers)
            await self._error(
                conn,
                f"Invalid value: {event_type!r}. Supported values are: {supported}.",
                code="invalid_value",
                param="type",
                event_id=event_id,
            )
            return
        if self._xai and event_type in _XAI_UNSUPPORTED:
            self.violations.append(f"{event_type}: not supported by xai")
            await self._error(
                conn,
                f"Event type '{event_type}' is not supported.",
                code="unsupported_event",
                param="type",
                event_id=event_id,
            )
            return
        if problems and not self._xai:
            message, code, param = _problem_error(problems[0])
            await self._error(conn, message, code=code, param=param, event_id=event_id)
            return
        if self._xai:
            event = xai_client_event_to_openai(event)
        try:
            await handler(conn, event, event_id)
        except ConnectionClosed:
            raise
        except Exception:
            _logger.exception("fake realtime server failed on %s", event_type)
            await self._error(
                conn,
                "The fake server failed to process the event.",
                error_type="server_error",
                event_id=event_id,
            )

    # --- session -----------------------------------------------------------------------------

    def _default_session(self, model: str) -> dict[str, Any]:
        return {
            "type": "realtime",
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "You are a helpful assistant (voicewire fake realtime server).",
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": tones.DEFAULT_RATE},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": _turn_detection_defaults({"type": "server_vad"}),
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": tones.DEFAULT_RATE},
                    "voice": "ara" if self._xai else "marin",
                    "speed": 1.0,
                },
            },
        }

    def _render_session(self, conn: _Connection) -> dict[str, Any]:
        session = copy.deepcopy(conn.session)
        if not self.dialect.session_type:
            session.pop("type", None)
        if self._xai:
            for key in ("tracing", "prompt", "include", "truncation"):
                session.pop(key, None)
        audio = session.get("audio")
        if isinstance(audio, dict):
            output = audio.get("output")
            voice_here = self.dialect.voice_placement == "session"
            if voice_here and isinstance(output, dict) and "voice" in output:
                session["voice"] = output.pop("voice")
            input_ = audio.get("input")
            vad_here = self.dialect.turn_detection_placement == "session"
            if vad_here and isinstance(input_, dict) and "turn_detection" in input_:
                session["turn_detection"] = input_.pop("turn_detection")
        return session

    async def _on_session_update(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            await self._error(
                conn, "Invalid type for 'session'.", code="invalid_type", param="session"
            )
            return
        if not self._xai:
            kind = update.get("type")
            if kind is None:
                await self._error(
                    conn,
                    "Missing required parameter: 'session.type'.",
                    code="missing_required_parameter",
                    param="session.type",
                    event_id=event_id,
                )
                return
            if kind != "realtime":
                await self._error(
                    conn,
                    f"The fake server only serves realtime sessions, not {kind!r}.",
                    code="invalid_value",
                    param="session.type",
                    event_id=event_id,
                )
                return
        _merge_session(conn.session, update)
        await self._send(conn, {"type": "session.updated", "session": self._render_session(conn)})

    # --- conversation items ------------------------------------------------------------------

    async def _on_item_create(self, conn: _Connection, event: _Event, event_id: str | None) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in (
            "message",
            "function_call",
            "function_call_output",
        ):
            await self._error(
                conn,
                "The fake server accepts items of type message, function_call and "
                "function_call_output.",
                code="invalid_value",
                param="item.type",
                event_id=event_id,
            )
            return
        item = copy.deepcopy(item)
        item_id = item.get("id") or self._new_id("item")
        if _index_of(conn.items, item_id) is not None:
            await self._error(
                conn,
                f"Item with id '{item_id}' already exists.",
                code="item_already_exists",
                param="item.id",
                event_id=event_id,
            )
            return
        previous = event.get("previous_item_id")
        if previous is None:
            index = len(conn.items)
        elif previous == "root":
            index = 0
        else:
            found = _index_of(conn.items, previous)
            if found is None:
                await self._error(
                    conn,
                    f"Previous item with id '{previous}' not found.",
                    code="item_not_found",
                    param="previous_item_id",
                    event_id=event_id,
                )
                return
            index = found + 1
        item["id"] = item_id
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        conn.items.insert(index, item)
        if item.get("type") == "message" and item.get("role") == "user":
            transcripts = [
                part.get("transcript")
                for part in item.get("content") or []
                if isinstance(part, dict) and part.get("type") == "input_audio"
            ]
            heard = " ".join(t for t in transcripts if isinstance(t, str))
            if heard:
                conn.heard[item_id] = heard
        previous_id = conn.items[index - 1]["id"] if index > 0 else None
        await self._item_added(conn, item, previous_id)
        await self._item_done(conn, item, previous_id)

    async def _on_item_delete(self, conn: _Connection, event: _Event, event_id: str | None) -> None:
        item_id = event.get("item_id")
        index = _index_of(conn.items, item_id)
        if index is None:
            await self._error(
                conn,
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                code="item_not_found",
                param="item_id",
                event_id=event_id,
            )
            return
        del conn.items[index]
        await self._send(conn, {"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_item_retrieve(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        item_id = event.get("item_id")
        index = _index_of(conn.items, item_id)
        if index is None:
            await self._error(
                conn,
                f"Item with id '{item_id}' not found.",
                code="item_not_found",
                param="item_id",
                event_id=event_id,
            )
            return
        await self._send(
            conn, {"type": "conversation.item.retrieved", "item": copy.deepcopy(conn.items[index])}
        )

    async def _on_item_truncate(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        item_id = event.get("item_id")
        content_index = event.get("content_index")
        audio_end_ms = event.get("audio_end_ms")
        index = _index_of(conn.items, item_id)
        item = conn.items[index] if index is not None else None
        if item is None or item.get("role") != "assistant":
            await self._error(
                conn,
                f"Only assistant message items can be truncated; '{item_id}' is not one.",
                code="invalid_value",
                param="item_id",
                event_id=event_id,
            )
            return
        content = item.get("content") or []
        if (
            not isinstance(content_index, int)
            or not 0 <= content_index < len(content)
            or content[content_index].get("type") != "output_audio"
        ):
            await self._error(
                conn,
                f"Invalid 'content_index': {content_index!r} is not an audio content part.",
                code="invalid_value",
                param="content_index",
                event_id=event_id,
            )
            return
        sent_ms = round(conn.audio_sent_ms.get(str(item_id), 0.0))
        if not isinstance(audio_end_ms, int) or audio_end_ms < 0 or audio_end_ms > sent_ms:
            self.violations.append(
                f"conversation.item.truncate: audio_end_ms {audio_end_ms!r} is past the "
                f"{sent_ms} ms of audio sent for item {item_id}"
            )
            await self._error(
                conn,
                f"Audio content of {sent_ms}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
                event_id=event_id,
            )
            return
        await self._send(
            conn,
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            },
        )

    async def _item_added(
        self, conn: _Connection, item: dict[str, Any], previous_id: str | None
    ) -> None:
        await self._send(
            conn,
            {
                "type": "conversation.item.added",
                "previous_item_id": None if self._xai else previous_id,
                "item": item,
            },
        )

    async def _item_done(
        self, conn: _Connection, item: dict[str, Any], previous_id: str | None
    ) -> None:
        if not self._xai:
            await self._send(
                conn,
                {"type": "conversation.item.done", "previous_item_id": previous_id, "item": item},
            )

    # --- input audio -------------------------------------------------------------------------

    async def _on_audio_append(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        audio = event.get("audio")
        try:
            if not isinstance(audio, str):
                raise ValueError("not a string")
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            self.violations.append("input_audio_buffer.append: 'audio' is not valid base64")
            await self._error(
                conn,
                "Invalid 'audio'. Expected base64-encoded audio bytes.",
                code="invalid_value",
                param="audio",
                event_id=event_id,
            )
            return
        self.input_audio.extend(data)
        audio_input = _audio_part(conn.session, "input")
        fmt = audio_input.get("format")
        rate = tones.format_rate(fmt)
        vad = audio_input.get("turn_detection")
        settings = _vad_settings(vad) if isinstance(vad, dict) else None
        pcm16 = tones.decode_audio(data, fmt)
        for heard in conn.vad.feed(pcm16, rate, self.vad_rms_threshold, settings):
            assert isinstance(vad, dict)  # settings is None without it, and nothing is heard
            if isinstance(heard, SpeechStart):
                await self._speech_started(conn, vad, heard.audio_start_ms)
            else:
                await self._speech_stopped(conn, vad, heard.audio_end_ms)

    async def _speech_started(
        self, conn: _Connection, vad: dict[str, Any], audio_start_ms: int
    ) -> None:
        conn.vad.speech_item_id = item_id = self._new_id("item")
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": item_id,
            },
        )
        if conn.response is not None and vad.get("interrupt_response", True) is not False:
            await self._cancel_response(conn, "turn_detected")

    async def _speech_stopped(
        self, conn: _Connection, vad: dict[str, Any], audio_end_ms: int
    ) -> None:
        item_id = conn.vad.speech_item_id or self._new_id("item")
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            },
        )
        await self._commit(conn, item_id)
        if vad.get("create_response", True) is not False and conn.response is None:
            self._start_response(conn, {})

    async def _commit(self, conn: _Connection, item_id: str | None) -> None:
        item_id = item_id or conn.vad.speech_item_id or self._new_id("item")
        conn.user_audio_ms += conn.vad.commit()
        previous_id = conn.items[-1]["id"] if conn.items else None
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": None if self._xai else previous_id,
                "item_id": item_id,
            },
        )
        part: dict[str, Any] = {"type": "input_audio", "transcript": None}
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [part],
        }
        conn.items.append(item)
        heard = self.script.next_transcript()
        conn.heard[item_id] = heard
        await self._item_added(conn, item, previous_id)
        await self._item_done(conn, item, previous_id)
        transcribe = self._xai or _audio_part(conn.session, "input").get("transcription")
        if not transcribe:
            return
        if not self._xai:
            for word in WORDS.findall(heard):
                await self._send(
                    conn,
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item_id,
                        "content_index": 0,
                        "delta": word,
                    },
                )
        part["transcript"] = heard
        audio_tokens = max(1, math.ceil(conn.user_audio_ms / 100))
        text_tokens = len(WORDS.findall(heard))
        await self._send(
            conn,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": heard,
                "usage": {
                    "type": "tokens",
                    "input_tokens": audio_tokens,
                    "output_tokens": text_tokens,
                    "total_tokens": audio_tokens + text_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                },
            },
        )

    async def _on_audio_commit(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        pending_ms = conn.vad.pending_ms
        if pending_ms < _MIN_COMMIT_MS:
            await self._error(
                conn,
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{_MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {pending_ms:.2f}ms "
                "of audio.",
                code="input_audio_buffer_commit_empty",
                event_id=event_id,
            )
            return
        await self._commit(conn, None)

    async def _on_audio_clear(self, conn: _Connection, event: _Event, event_id: str | None) -> None:
        conn.vad.clear()
        await self._send(conn, {"type": "input_audio_buffer.cleared"})

    async def _on_output_audio_clear(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        await self._error(
            conn,
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
            event_id=event_id,
        )

    # --- responses ---------------------------------------------------------------------------

    async def _on_response_create(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        if conn.response is not None:
            await self._error(
                conn,
                "Conversation already has an active response in progress: "
                f"{conn.response.id}. Wait until the response is finished before creating "
                "a new one.",
                code="conversation_already_has_active_response",
                event_id=event_id,
            )
            return
        options = event.get("response")
        self._start_response(conn, options if isinstance(options, dict) else {})

    async def _on_response_cancel(
        self, conn: _Connection, event: _Event, event_id: str | None
    ) -> None:
        resp = conn.response
        wanted = event.get("response_id")
        if resp is None or (wanted is not None and wanted != resp.id):
            await self._error(
                conn,
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
                event_id=event_id,
            )
            return
        await self._cancel_response(conn, "client_cancelled")

    def _choose_reply(self, conn: _Connection, options: Mapping[str, Any]) -> Reply:
        given = options.get("input")
        items = [i for i in given if isinstance(i, dict)] if isinstance(given, list) else conn.items
        last = items[-1] if items else None
        answered = last is not None and last.get("type") == "function_call_output"
        return choose_reply(
            self.script,
            conn.calls,
            tool_output_call_id=str(last.get("call_id")) if answered and last else None,
            user_text=None if answered else _latest_user_text(items, conn.heard),
        )

    def _start_response(self, conn: _Connection, options: Mapping[str, Any]) -> None:
        reply = self._choose_reply(conn, options)
        resp = ResponseRun(self._new_id("resp"))
        conn.response = resp
        resp.task = asyncio.create_task(self._run_response(conn, resp, reply, options))
        self._tasks.add(resp.task)
        resp.task.add_done_callback(self._tasks.discard)

    async def _cancel_response(self, conn: _Connection, reason: str) -> None:
        resp = conn.response
        if resp is None or not resp.cancel(reason):
            return
        task = resp.task
        if task is not None and task is not asyncio.current_task():
            done, _ = await asyncio.wait({task}, timeout=_CANCEL_TIMEOUT_S)
            if not done:
                task.cancel()

    async def _run_response(
        self, conn: _Connection, resp: ResponseRun, reply: Reply, options: Mapping[str, Any]
    ) -> None:
        try:
            await self._respond(conn, resp, reply, options)
        except ConnectionClosed:
            pass
        except Exception:
            _logger.exception("fake realtime server failed while responding")
        finally:
            if conn.response is resp:
                conn.response = None

    async def _respond(
        self, conn: _Connection, resp: ResponseRun, reply: Reply, options: Mapping[str, Any]
    ) -> None:
        session = conn.session
        run = _Run(conn=conn, resp=resp, out_of_band=options.get("conversation") == "none")
        modalities = options.get("output_modalities") or session.get("output_modalities")
        text_mode = answers_in_text(reply, modalities)
        session_output = _audio_part(session, "output")
        option_audio = options.get("audio")
        option_output = option_audio.get("output") if isinstance(option_audio, dict) else None
        option_output = option_output if isinstance(option_output, dict) else {}
        fmt = option_output.get("format") or session_output.get("format")
        voice = option_output.get("voice") or session_output.get("voice")
        if isinstance(voice, dict):  # a custom voice {"id": ...}; responses carry its id
            voice = voice.get("id")
        response: dict[str, Any] = {
            "id": resp.id,
            "object": "realtime.response",
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": None if run.out_of_band else conn.conversation_id,
            "output_modalities": ["text"] if text_mode else ["audio"],
            "max_output_tokens": options.get("max_output_tokens")
            or session.get("max_output_tokens", "inf"),
            "audio": {"output": {"format": fmt, "voice": voice}},
            "usage": None,
            "metadata": options.get("metadata"),
        }
        await self._send(conn, {"type": "response.created", "response": response})
        if isinstance(reply, ToolCallReply):
            item = await self._emit_tool_call(run, reply, options)
        elif text_mode:
            text = reply.text if isinstance(reply, TextReply) else reply.transcript
            item = await self._emit_text(run, text, reply.pace)
        else:
            assert isinstance(reply, AudioReply)
            item = await self._emit_audio(run, reply, fmt)
        conn.response = None
        response["status"] = "cancelled" if run.cancelled else "completed"
        if run.cancelled:
            response["status_details"] = {"type": "cancelled", "reason": resp.reason}
        response["output"] = [item]
        response["usage"] = self._usage(conn, item, session)
        await self._send(conn, {"type": "response.done", "response": response})

    async def _open_item(self, run: _Run, item: dict[str, Any]) -> str | None:
        """Send output_item.added and (in-band) add the item to the conversation."""
        conn = run.conn
        await self._send(
            conn,
            {
                "type": "response.output_item.added",
                "response_id": run.resp.id,
                "output_index": 0,
                "item": item,
            },
        )
        if run.out_of_band:
            return None
        previous_id = conn.items[-1]["id"] if conn.items else None
        conn.items.append(item)
        await self._item_added(conn, item, previous_id)
        return previous_id

    async def _close_item(self, run: _Run, item: dict[str, Any], previous_id: str | None) -> None:
        item["status"] = "incomplete" if run.cancelled else "completed"
        await self._send(
            run.conn,
            {
                "type": "response.output_item.done",
                "response_id": run.resp.id,
                "output_index": 0,
                "item": item,
            },
        )
        if not run.out_of_band:
            await self._item_done(run.conn, item, previous_id)

    async def _start_message(
        self, run: _Run, part: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
        """Open an assistant message item and its first content part, as the API does."""
        item_id = self._new_id("item")
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        previous_id = await self._open_item(run, item)
        ids = {"response_id": run.resp.id, "item_id": item_id, "output_index": 0}
        await self._send(
            run.conn,
            {"type": "response.content_part.added", **ids, "content_index": 0, "part": part},
        )
        return item, previous_id, ids

    async def _emit_audio(
        self, run: _Run, reply: AudioReply, fmt: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        conn = run.conn
        item, previous_id, ids = await self._start_message(run, {"type": "audio", "transcript": ""})
        item_id = item["id"]
        rate = tones.format_rate(fmt)
        width = tones.bytes_per_sample(fmt)
        chunks = speech_chunks(reply, rate, width, lambda pcm: tones.encode_audio(pcm, fmt))
        conn.audio_sent_ms[item_id] = 0.0

        async def say(word: str) -> None:
            delta = {"type": "response.output_audio_transcript.delta", **ids, "content_index": 0}
            await self._send(conn, {**delta, "delta": word})

        async def play(chunk: bytes) -> None:
            audio = base64.b64encode(chunk).decode("ascii")
            delta = {"type": "response.output_audio.delta", **ids, "content_index": 0}
            await self._send(conn, {**delta, "delta": audio})
            conn.audio_sent_ms[item_id] += len(chunk) / width * 1000 / rate

        transcript = await stream_speech(
            run.resp, chunks, reply.transcript, reply.pace, say=say, play=play
        )
        await self._send(conn, {"type": "response.output_audio.done", **ids, "content_index": 0})
        await self._send(
            conn,
            {
                "type": "response.output_audio_transcript.done",
                **ids,
                "content_index": 0,
                "transcript": transcript,
            },
        )
        await self._send(
            conn,
            {
                "type": "response.content_part.done",
                **ids,
                "content_index": 0,
                "part": {"type": "audio", "transcript": transcript},
            },
        )
        item["content"] = [{"type": "output_audio", "transcript": transcript}]
        await self._close_item(run, item, previous_id)
        return item

    async def _emit_text(self, run: _Run, text: str, pace: float) -> dict[str, Any]:
        conn = run.conn
        item, previous_id, ids = await self._start_message(run, {"type": "text", "text": ""})

        async def say(word: str) -> None:
            delta = {"type": self.dialect.text_delta_type, **ids, "content_index": 0}
            await self._send(conn, {**delta, "delta": word})

        full = await stream_text(run.resp, text, pace, say)
        await self._send(
            conn, {"type": self.dialect.text_done_type, **ids, "content_index": 0, "text": full}
        )
        await self._send(
            conn,
            {
                "type": "response.content_part.done",
                **ids,
                "content_index": 0,
                "part": {"type": "text", "text": full},
            },
        )
        item["content"] = [{"type": "output_text", "text": full}]
        await self._close_item(run, item, previous_id)
        return item

    async def _emit_tool_call(
        self, run: _Run, reply: ToolCallReply, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        conn = run.conn
        declared = {
            tool.get("name")
            for tools in (conn.session.get("tools"), options.get("tools"))
            if isinstance(tools, list)
            for tool in tools
            if isinstance(tool, dict)
        }
        if reply.name not in declared:
            self.undeclared_tool_calls.append(reply.name)
        call_id = reply.call_id or self._new_id("call")
        arguments = reply.arguments_json
        item_id = self._new_id("item")
        item: dict[str, Any] = {
            "id": item_id,
            "type": "function_call",
            "object": "realtime.item",
            "status": "in_progress",
            "name": reply.name,
            "call_id": call_id,
            "arguments": "",
        }
        previous_id = await self._open_item(run, item)
        ids = {"response_id": run.resp.id, "item_id": item_id, "output_index": 0}
        step = max(1, math.ceil(len(arguments) / 3))
        if not self._xai:
            for start in range(0, len(arguments), step):
                if run.cancelled:
                    break
                await self._send(
                    conn,
                    {
                        "type": "response.function_call_arguments.delta",
                        **ids,
                        "call_id": call_id,
                        "delta": arguments[start : start + step],
                    },
                )
                await run.resp.pause(0.0)
        if not run.cancelled:
            await self._send(
                conn,
                {
                    "type": "response.function_call_arguments.done",
                    **ids,
                    "call_id": call_id,
                    "name": reply.name,
                    "arguments": arguments,
                },
            )
            item["arguments"] = arguments
            conn.calls[call_id] = reply
        await self._close_item(run, item, previous_id)
        return item

    def _usage(
        self, conn: _Connection, item: Mapping[str, Any], session: Mapping[str, Any]
    ) -> dict[str, Any]:
        history_chars = len(str(session.get("instructions") or ""))
        for stored in conn.items:
            for part in stored.get("content") or []:
                if isinstance(part, dict):
                    history_chars += len(str(part.get("text") or part.get("transcript") or ""))
            history_chars += len(str(stored.get("arguments") or stored.get("output") or ""))
        input_text = max(1, history_chars // 4)
        input_audio = math.ceil(conn.user_audio_ms / 100)
        output_audio = math.ceil(conn.audio_sent_ms.get(str(item.get("id")), 0.0) / 50)
        produced = "".join(
            str(part.get("text") or part.get("transcript") or "")
            for part in item.get("content") or []
            if isinstance(part, dict)
        ) + str(item.get("arguments") or "")
        output_text = math.ceil(len(produced) / 4)
        return {
            "total_tokens": input_text + input_audio + output_text + output_audio,
            "input_tokens": input_text + input_audio,
            "output_tokens": output_text + output_audio,
            "input_token_details": {
                "text_tokens": input_text,
                "audio_tokens": input_audio,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }

    # --- sending -----------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):08d}"

    def _live(self) -> list[_Connection]:
        live = [conn for conn in self._connections if not conn.closed]
        if not live:
            raise RuntimeError("the fake server has no live connection")
        return live

    async def _send(self, conn: _Connection, event: Mapping[str, Any]) -> None:
        if conn.closed:
            return
        payload = {"event_id": self._new_id("event"), **event}
        text = json.dumps(payload)
        record = json.loads(text)
        self.sent.append(record)
        if record.get("type") == "error":
            self.errors.append(record)
        try:
            await conn.ws.send(text)
        except ConnectionClosed:
            conn.closed = True
            raise

    async def _error(
        self,
        conn: _Connection,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        await self._send(
            conn,
            {
                "type": "error",
                "error": {
                    "type": error_type,
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": event_id,
                },
            },
        )


# --- helpers -----------------------------------------------------------------------------------


def _reject(connection: ServerConnection, status: HTTPStatus, message: str, code: str) -> Response:
    error = {"message": message, "type": "invalid_request_error", "code": code, "param": None}
    body = json.dumps({"error": error})
    response = connection.respond(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _query_model(path: str) -> str | None:
    values = parse_qs(urlsplit(path).query).get("model")
    return values[0] if values and values[0] else None


def _offered_subprotocols(headers: Headers) -> list[str]:
    return [
        name.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for name in value.split(",")
        if name.strip()
    ]


def _index_of(items: Sequence[Mapping[str, Any]], item_id: object) -> int | None:
    for index, item in enumerate(items):
        if item.get("id") == item_id:
            return index
    return None


def _latest_user_text(items: Sequence[Mapping[str, Any]], heard: Mapping[str, str]) -> str | None:
    for item in reversed(items):
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        texts = [
            str(part.get("text"))
            for part in item.get("content") or []
            if isinstance(part, dict) and part.get("type") == "input_text" and part.get("text")
        ]
        if texts:
            return " ".join(texts)
        spoken = heard.get(str(item.get("id")))
        if spoken is not None:
            return spoken
    return None


def _audio_part(session: Mapping[str, Any], direction: str) -> dict[str, Any]:
    """``session.audio.<direction>`` or an empty dict."""
    audio = session.get("audio")
    part = audio.get(direction) if isinstance(audio, dict) else None
    return part if isinstance(part, dict) else {}


def _turn_detection_defaults(vad: dict[str, Any]) -> dict[str, Any]:
    if vad.get("type") == "server_vad":
        vad.setdefault("threshold", 0.5)
        vad.setdefault("prefix_padding_ms", DEFAULT_PREFIX_PADDING_MS)
        vad.setdefault("silence_duration_ms", DEFAULT_SILENCE_MS)
        vad.setdefault("idle_timeout_ms", None)
    elif vad.get("type") == "semantic_vad":
        vad.setdefault("eagerness", "auto")
    vad.setdefault("create_response", True)
    vad.setdefault("interrupt_response", True)
    return vad


def _vad_settings(vad: Mapping[str, Any]) -> VadSettings:
    """What the energy detector reads of a wire ``turn_detection`` (defaults where absent)."""
    silence = vad.get("silence_duration_ms")
    padding = vad.get("prefix_padding_ms")
    return VadSettings(
        silence_duration_ms=silence if isinstance(silence, int) else DEFAULT_SILENCE_MS,
        prefix_padding_ms=padding if isinstance(padding, int) else DEFAULT_PREFIX_PADDING_MS,
    )


def _merge_session(state: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge a session update: ``audio.input`` / ``audio.output`` key by key, the rest replaced."""
    for key, value in update.items():
        if key != "audio" or not isinstance(value, dict):
            state[key] = copy.deepcopy(value)
            continue
        audio = state.get("audio")
        if not isinstance(audio, dict):
            audio = state["audio"] = {}
        for direction, part in value.items():
            target = audio.get(direction)
            if isinstance(part, dict) and isinstance(target, dict):
                target.update(copy.deepcopy(part))
            else:
                audio[direction] = copy.deepcopy(part)
    audio = state.get("audio")
    if isinstance(audio, dict):
        for direction in ("input", "output"):
            part = audio.get(direction)
            if not isinstance(part, dict):
                continue
            fmt = part.get("format")
            if isinstance(fmt, dict) and fmt.get("type", "audio/pcm") == "audio/pcm":
                fmt.setdefault("rate", tones.DEFAULT_RATE)
            vad = part.get("turn_detection")
            if isinstance(vad, dict):
                _turn_detection_defaults(vad)


def _problem_error(problem: str) -> tuple[str, str, str | None]:
    """An OpenAI-style (message, code, param) for a validation problem."""
    path, _, detail = problem.partition(": ")
    if detail == "unknown key":
        return f"Unknown parameter: '{path}'.", "unknown_parameter", path
    if detail == "missing required key":
        return f"Missing required parameter: '{path}'.", "missing_required_parameter", path
    return f"Invalid value: {problem}", "invalid_value", path or None
