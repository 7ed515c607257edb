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
  subprotocol ``<endpoint.token_subprotocol_prefix><key>``, where key is ``api_key`` or one of
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

This module is the server itself: listening, the handshake, the connection loop, validation and
dispatch, and the helpers tests call. The event handlers live in :mod:`voicewire.testing.fake`,
one concern per module (session, items, input audio, responses), and the turn rules they share
with :class:`~voicewire.testing.ScriptedModel` in :mod:`voicewire.testing.energy_vad`,
:mod:`voicewire.testing.responder` and :mod:`voicewire.protocol.conversation`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voicewire.providers.openai_protocol.dialect import OPENAI, XAI, Dialect
from voicewire.providers.openai_protocol.endpoint import Endpoint, endpoint_for

from .fake.base import CANCEL_TIMEOUT_S, Event, FakeConnection
from .fake.handshake import offered_subprotocols, query_model, reject
from .fake.input_audio import InputHandlers
from .fake.items import ItemHandlers
from .fake.session import SessionHandlers
from .received_log import ReceivedLog
from .script import Script
from .serving import WebSocketFake
from .validation import validate_client_event, xai_client_event_to_openai

__all__ = ["FakeRealtimeServer"]

_Handler = Callable[[FakeConnection, Event, str | None], Awaitable[None]]

_logger = logging.getLogger(__name__)

_XAI_UNSUPPORTED = frozenset(
    {"conversation.item.truncate", "conversation.item.retrieve", "output_audio_buffer.clear"}
)


class FakeRealtimeServer(SessionHandlers, ItemHandlers, InputHandlers, ReceivedLog, WebSocketFake):
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
        self.endpoint: Endpoint = endpoint_for(dialect)
        self.api_key = api_key
        self.host = host
        self.port = port
        self.script: Script = script if script is not None else Script()
        self.vad_rms_threshold = vad_rms_threshold
        self.valid_tokens: set[str] = set()
        self.received: list[Event] = []
        self.sent: list[Event] = []
        self.errors: list[Event] = []
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
        self._connections: list[FakeConnection] = []
        self._latest: FakeConnection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._received_changed = asyncio.Condition()
        self._handlers: dict[str, _Handler] = {
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

    _label = "fake realtime server"

    def _listen(self) -> Awaitable[Server]:
        return self._serve(
            self._serve_connection,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
        )

    async def _stop_work(self) -> None:
        """Cancel every connection's response."""
        for conn in list(self._connections):
            if conn.response is not None and conn.response.task is not None:
                conn.response.task.cancel()

    # --- public helpers ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1``; clients connect to ``f"{base_url}/realtime?model=..."``."""
        return f"{self._origin()}/v1"

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
        return copy.deepcopy(self._latest.items.values())

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
            return reject(
                connection,
                HTTPStatus.BAD_REQUEST,
                f"Invalid URL path {url.path!r}; the realtime endpoint is /v1/realtime.",
                "invalid_url",
            )
        if not self._authorized(request.headers):
            return reject(
                connection,
                HTTPStatus.UNAUTHORIZED,
                "Incorrect API key provided. Authenticate with 'Authorization: Bearer <key>' "
                f"or the subprotocol '{self.endpoint.token_subprotocol_prefix}<key>'.",
                "invalid_api_key",
            )
        if not self._xai and not query_model(request.path):
            return reject(
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
        prefix = self.endpoint.token_subprotocol_prefix
        return any(
            offered.startswith(prefix) and offered[len(prefix) :] in accepted
            for offered in offered_subprotocols(headers)
        )

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        for name in self.endpoint.extra_subprotocols:
            if name in offered:
                return Subprotocol(name)
        for name in offered:
            if name.startswith(self.endpoint.token_subprotocol_prefix):
                return name
        return None

    # --- connection loop ---------------------------------------------------------------------

    async def _serve_connection(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        model = query_model(path) or self._default_model
        conn = FakeConnection(
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
                await asyncio.wait({resp.task}, timeout=CANCEL_TIMEOUT_S)
            self._connections.remove(conn)

    async def _greet(self, conn: FakeConnection) -> None:
        if self._xai:
            conversation = {"id": conn.conversation_id, "object": "realtime.conversation"}
            await self._send(conn, {"type": "conversation.created", "conversation": conversation})
        kind = "session.updated" if self._xai else "session.created"
        await self._send(conn, {"type": kind, "session": self._render_session(conn)})

    async def _on_message(self, conn: FakeConnection, message: str | bytes) -> None:
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
        await self._record(event)
        await self._dispatch(conn, event)

    async def _dispatch(self, conn: FakeConnection, event: Event) -> None:
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


def _problem_error(problem: str) -> tuple[str, str, str | None]:
    """An OpenAI-style (message, code, param) for a validation problem."""
    path, _, detail = problem.partition(": ")
    if detail == "unknown key":
        return f"Unknown parameter: '{path}'.", "unknown_parameter", path
    if detail == "missing required key":
        return f"Missing required parameter: '{path}'.", "missing_required_parameter", path
    return f"Invalid value: {problem}", "invalid_value", path or None
