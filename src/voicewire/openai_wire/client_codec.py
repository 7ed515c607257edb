"""Sans-I/O codec for the OpenAI Realtime GA wire protocol and the dialects that speak it (xAI).

``encode_client`` turns a neutral :data:`ClientEvent` into the JSON object to send (or ``None``
when the dialect cannot express it); ``decode_server`` turns one parsed server message into zero
or more neutral :data:`ServerEvent`. No sockets, no asyncio, no pydantic models. Each client event
kind has its encoder in :mod:`.client_encoder`; this module reads the server's events.

Decoding is on the hot path: a model streams 50 audio chunks per second and a relay may carry many
sessions. So dispatch is one dict lookup from the type string to a small handler, handlers read the
fields they need with ``dict.get``, and the commonest events (audio, transcript and text deltas)
check them with ``value.__class__ is str`` before calling the event's constructor directly.
Anything unusual — ``None`` ids, ``str`` subclasses, wrong types — falls back to a careful path
that validates each field and raises :class:`ProtocolError` naming the event type and the field.

Server types fall in three groups: decoded (:attr:`OpenAIProtocolCodec.handled_types`),
deliberately ignored (:data:`IGNORED_SERVER_TYPES`, each with its reason), and unknown — newer
than this codec. Ignored and unknown types both decode to ``[]``;
:meth:`OpenAIProtocolCodec.is_known` tells them apart, so a connection can log what it has never
heard of without failing on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, cast

from pydantic_core import from_json as _parse_json

from voicewire.protocol import (
    AudioInputCleared,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    ClientEvent,
    ItemCreated,
    ItemDeleted,
    ItemTruncated,
    ProtocolError,
    ResponseCreated,
    ResponseDone,
    ResponseStatus,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    ToolCall,
    ToolDelta,
    ToolStart,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    TranscriptOutputDelta,
)

from .client_encoder import ClientEncoder, client_encoders
from .close_codes import describe_close
from .dialect import Dialect
from .fields import ServerEventFields, describe
from .items import decode_item_from_server
from .session_encode import encode_session as _encode_session
from .usage import decode_usage

__all__ = [
    "CUMULATIVE_TRANSCRIPT",
    "IGNORED_SERVER_TYPES",
    "OpenAIProtocolCodec",
]

ServerHandler = Callable[[Mapping[str, Any]], list[ServerEvent]]


CUMULATIVE_TRANSCRIPT: Final = "transcript.input.cumulative"
"""Pseudo GA type for dialect events that carry the whole partial input transcript so far."""

IGNORED_SERVER_TYPES: Final[frozenset[str]] = frozenset(
    {
        # The GA session opens with session.created; the default conversation's id is unused.
        # (xAI opens with conversation.created, so its dialect decodes it instead.)
        "conversation.created",
        # Item finished: ItemCreated came with conversation.item.added, and the item's transcript
        # and tool call arrive through their own events.
        "conversation.item.done",
        # The answer to conversation.item.retrieve, which voicewire never sends.
        "conversation.item.retrieved",
        # Diarized segments (gpt-4o-transcribe-diarize); the full text comes with .completed.
        "conversation.item.input_audio_transcription.segment",
        # SIP-only DTMF keypresses; the neutral vocabulary has no DTMF event.
        "input_audio_buffer.dtmf_event_received",
        # Idle-timeout notice; the response it triggers arrives as response.* events.
        "input_audio_buffer.timeout_triggered",
        # Informational quota snapshot; nothing to act on within a session.
        "rate_limits.updated",
        # Content-part bookkeeping; the delta and done events carry all of the content.
        "response.content_part.added",
        "response.content_part.done",
        # Output item finished: its text/audio ended with their done events, and a function call
        # is reported once, by response.function_call_arguments.done.
        "response.output_item.done",
        # WebRTC/SIP only: the server plays audio itself. Over WebSocket the channel plays it.
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        # Server-side MCP tools run inside OpenAI; voicewire tools are client functions.
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)
"""OpenAI GA server event types the codec knows and deliberately decodes to ``[]``."""

_RESPONSE_STATUSES: Final[frozenset[str]] = frozenset(
    {"completed", "cancelled", "failed", "incomplete", "in_progress"}
)
_MAX_PARTIAL_TRANSCRIPTS: Final = 256


def _fields(message: Mapping[str, Any]) -> ServerEventFields:
    """The careful reader of one server message's fields (its errors name the event type)."""
    return ServerEventFields(message["type"])


def _output_ids(f: ServerEventFields, m: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ``response_id`` and ``item_id`` every output event carries (either may be null)."""
    return f.opt_text(m, "response_id"), f.opt_text(m, "item_id")


# --- the codec --------------------------------------------------------------------------------


def _output_delta_handler(
    cls: type[TextOutputDelta] | type[TranscriptOutputDelta],
) -> ServerHandler:
    """Text and audio-transcript deltas share one shape: response_id, item_id, delta. The common
    case (all three strings) is checked cheaply; anything else takes the careful path, which
    names the bad field."""

    def on_delta(m: Mapping[str, Any]) -> list[ServerEvent]:
        get = m.get
        response_id = get("response_id")
        item_id = get("item_id")
        delta = get("delta")
        if response_id.__class__ is str and item_id.__class__ is str and delta.__class__ is str:
            return [cls(response_id, item_id, delta)]
        f = _fields(m)
        return [
            cls(
                *_output_ids(f, m),
                f.text(m, "delta"),
            )
        ]

    return on_delta


class OpenAIProtocolCodec:
    """Translate between neutral events and one dialect of the OpenAI Realtime GA protocol.

    Pure: no I/O. Its only state is the last partial input transcript per item, for dialects
    that stream partials cumulatively (xAI); it is keyed by the provider's unique item ids and
    bounded, so one instance may serve many connections.
    """

    __slots__ = ("_dispatch", "_encoders", "_handlers", "_ignored", "_partials", "dialect")

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._partials: dict[str, str | None] = {}
        self._encoders: dict[str, ClientEncoder] = client_encoders(dialect)
        self._handlers: dict[str, ServerHandler] = self._build_handlers(dialect)
        self._dispatch = self._handlers.get
        self._ignored: frozenset[str] = IGNORED_SERVER_TYPES - self._handlers.keys()

    def __repr__(self) -> str:
        return f"OpenAIProtocolCodec({self.dialect.name!r})"

    # -- public API ----------------------------------------------------------------------------

    @property
    def handled_types(self) -> frozenset[str]:
        """Server types this codec decodes into neutral events."""
        return frozenset(self._handlers)

    @property
    def ignored_types(self) -> frozenset[str]:
        """Server types this codec knows and deliberately decodes to ``[]``."""
        return self._ignored

    def is_known(self, type_: str) -> bool:
        """Whether ``type_`` is decoded or deliberately ignored (``False``: newer than us)."""
        return type_ in self._handlers or type_ in self._ignored

    def describe_close(self, code: int | None, reason: str) -> SessionError | None:
        """A close that ends the session (1000, 1008, ...: see :mod:`.close_codes`) as its
        fatal error; ``None`` for a drop worth reconnecting after."""
        return describe_close(self.dialect.name, code, reason)

    def encode_client(self, event: ClientEvent) -> dict[str, Any] | None:
        """The JSON object for ``event``, or ``None`` when the dialect cannot express it."""
        try:
            encoder = self._encoders[event.kind]
        except (KeyError, AttributeError):
            raise TypeError(f"not a voicewire client event: {event!r}") from None
        return encoder(event)

    def encode_session(
        self, config: SessionConfig, *, provider_options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``session`` object of a ``session.update`` carrying all of ``config``."""
        return _encode_session(config, self.dialect, provider_options=provider_options)

    def decode_server(self, message: Mapping[str, Any]) -> list[ServerEvent]:
        """Neutral events for one parsed server message.

        Unknown types give ``[]`` (see :meth:`is_known`); a message that is not a JSON object,
        has no string ``type``, or misses/mistypes a field the event needs raises
        :class:`ProtocolError`.
        """
        try:
            handler = self._dispatch(message["type"])
        except (KeyError, TypeError, IndexError, AttributeError):
            raise self._not_an_event(message) from None
        if handler is None:
            if not isinstance(message["type"], str):
                raise self._not_an_event(message)
            return []
        try:
            return handler(message)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Safety net: handlers validate what they read, so this should be unreachable.
            raise ProtocolError(
                f"malformed {message['type']!r} server event ({type(exc).__name__}: {exc})"
            ) from None

    def decode_server_text(self, text: str | bytes) -> list[ServerEvent]:
        """:meth:`decode_server` for one WebSocket text frame (JSON).

        Parses with pydantic-core's JSON parser (a voicewire dependency already), about three
        times faster than ``json.loads`` on audio frames; no pydantic validation is involved.
        """
        try:
            message = _parse_json(text)
        except (ValueError, TypeError) as exc:
            raise ProtocolError(f"server sent malformed JSON: {exc}", code="invalid_json") from None
        return self.decode_server(message)

    @staticmethod
    def _not_an_event(message: object) -> ProtocolError:
        if not isinstance(message, Mapping):
            return ProtocolError(
                f"a server message must be a JSON object, got {type(message).__name__}"
            )
        if "type" not in message:
            return ProtocolError("server message has no 'type' field")
        return ProtocolError(
            f"server message 'type' must be a string, got {describe(message['type'])}"
        )

    # -- server events -------------------------------------------------------------------------

    def _build_handlers(self, dialect: Dialect) -> dict[str, ServerHandler]:
        ga: dict[str, ServerHandler] = {
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "conversation.item.added": self._on_item_created,
            "conversation.item.created": self._on_item_created,
            "conversation.item.deleted": self._on_item_deleted,
            "conversation.item.truncated": self._on_item_truncated,
            "input_audio_buffer.committed": self._on_committed,
            "input_audio_buffer.cleared": self._on_cleared,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "conversation.item.input_audio_transcription.delta": self._on_input_transcript_delta,
            "conversation.item.input_audio_transcription.completed": self._on_input_transcript,
            "conversation.item.input_audio_transcription.failed": self._on_input_transcript_failed,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio.done": self._on_audio_done,
            "response.output_audio_transcript.delta": _output_delta_handler(TranscriptOutputDelta),
            "response.output_audio_transcript.done": self._on_transcript_done,
            "response.output_text.delta": _output_delta_handler(TextOutputDelta),
            "response.output_text.done": self._on_text_done,
            "response.output_item.added": self._on_output_item_added,
            "response.function_call_arguments.delta": self._on_tool_delta,
            "response.function_call_arguments.done": self._on_tool_call,
            CUMULATIVE_TRANSCRIPT: self._on_cumulative_transcript,
        }
        handlers = {name: handler for name, handler in ga.items() if name != CUMULATIVE_TRANSCRIPT}
        # The dialect's own names for text output replace the GA ones.
        for ga_name, name in (
            ("response.output_text.delta", dialect.text_delta_type),
            ("response.output_text.done", dialect.text_done_type),
        ):
            if name != ga_name:
                del handlers[ga_name]
                handlers[name] = ga[ga_name]
        for name in dialect.session_created_types:
            if name == "conversation.created":
                handlers[name] = self._on_conversation_created
            else:
                handlers[name] = self._on_session_created
        for alias, ga_name in dialect.server_type_aliases:
            handlers[alias] = ga[ga_name]
        return handlers

    @staticmethod
    def _on_session_created(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        session = f.mapping(m, "session")
        return [SessionCreated(f.opt_text(session, "id", "session.id"))]

    @staticmethod
    def _on_conversation_created(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        conversation = f.mapping(m, "conversation")
        return [SessionCreated(f.opt_text(conversation, "id", "conversation.id"))]

    @staticmethod
    def _on_session_updated(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        session = f.mapping(m, "session")
        return [SessionUpdated(f.opt_text(session, "id", "session.id"))]

    @staticmethod
    def _on_error(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        error = f.mapping(m, "error")
        message = f.text(error, "message", "error.message")
        code = (
            f.opt_text(error, "code", "error.code")
            or f.opt_text(error, "type", "error.type")
            or "error"
        )
        return [
            SessionError(
                code,
                message,
                # The id of the client event that caused the error, when the server names one.
                f.opt_text(error, "event_id", "error.event_id"),
                f.opt_text(error, "param", "error.param"),
            )
        ]

    @staticmethod
    def _on_item_created(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        item = decode_item_from_server(f.mapping(m, "item"), ServerEventFields(m["type"]))
        if item is None:
            return []
        return [ItemCreated(item, f.opt_text(m, "previous_item_id"))]

    @staticmethod
    def _on_item_deleted(m: Mapping[str, Any]) -> list[ServerEvent]:
        return [ItemDeleted(_fields(m).text(m, "item_id"))]

    @staticmethod
    def _on_item_truncated(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [
            ItemTruncated(
                f.text(m, "item_id"),
                f.integer(m, "audio_end_ms"),
                f.integer(m, "content_index", default=0),
            )
        ]

    @staticmethod
    def _on_committed(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [AudioInputCommitted(f.opt_text(m, "item_id"), f.opt_text(m, "previous_item_id"))]

    @staticmethod
    def _on_cleared(m: Mapping[str, Any]) -> list[ServerEvent]:
        return [AudioInputCleared()]

    @staticmethod
    def _on_speech_started(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [SpeechStarted(f.opt_text(m, "item_id"), f.opt_integer(m, "audio_start_ms"))]

    @staticmethod
    def _on_speech_stopped(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [SpeechStopped(f.opt_text(m, "item_id"), f.opt_integer(m, "audio_end_ms"))]

    @staticmethod
    def _on_input_transcript_delta(m: Mapping[str, Any]) -> list[ServerEvent]:
        get = m.get
        item_id = get("item_id")
        delta = get("delta")
        if item_id.__class__ is str and delta.__class__ is str and delta:
            return [TranscriptInputDelta(item_id, delta)]
        f = _fields(m)
        # The careful path: a null id or delta, str subclasses, or a malformed message.
        item_id = f.opt_text(m, "item_id")
        delta = f.opt_text(m, "delta")
        if not delta:
            return []
        return [TranscriptInputDelta(item_id, delta)]

    def _on_input_transcript(self, m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        item_id = f.text(m, "item_id")
        transcript = f.text(m, "transcript")
        if m.get("status") == "in_progress":
            # xAI streams partial transcripts through .completed, marked in_progress.
            return self._partial_transcript(item_id, transcript)
        self._partials.pop(item_id, None)
        return [TranscriptInput(item_id, transcript)]

    def _on_cumulative_transcript(self, m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return self._partial_transcript(f.text(m, "item_id"), f.text(m, "transcript"))

    def _partial_transcript(self, item_id: str, transcript: str) -> list[ServerEvent]:
        """Turn a cumulative partial transcript into the increment since the previous one.

        A partial that rewrites earlier words cannot be expressed as a delta; from then on the
        item's partials are dropped and the final ``transcript.input`` carries the whole text.
        """
        partials = self._partials
        previous = partials.get(item_id, "")
        if previous is None:
            return []
        if not transcript.startswith(previous):
            partials[item_id] = None
            return []
        if item_id not in partials and len(partials) >= _MAX_PARTIAL_TRANSCRIPTS:
            del partials[next(iter(partials))]
        partials[item_id] = transcript
        delta = transcript[len(previous) :]
        return [TranscriptInputDelta(item_id, delta)] if delta else []

    def _on_input_transcript_failed(self, m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        item_id = f.opt_text(m, "item_id")
        error = f.opt_mapping(m, "error") or {}
        reason = (
            f.opt_text(error, "message", "error.message")
            or f.opt_text(error, "code", "error.code")
            or "no reason given"
        )
        if item_id is not None:
            self._partials.pop(item_id, None)
        return [
            SessionError(
                "input_transcription_failed",
                f"input audio transcription failed for item {item_id}: {reason}",
                None,
                f.opt_text(error, "param", "error.param"),
            )
        ]

    @staticmethod
    def _on_response_created(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        response = f.mapping(m, "response")
        return [ResponseCreated(f.opt_text(response, "id", "response.id"))]

    @staticmethod
    def _on_response_done(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        response = f.mapping(m, "response")
        response_id = f.opt_text(response, "id", "response.id")
        status = response.get("status")
        if status is None:
            status = "completed"
        elif not isinstance(status, str) or status not in _RESPONSE_STATUSES:
            raise f.wrong("response.status", "a response status", status)
        reason: str | None = None
        events: list[ServerEvent] = []
        details = f.opt_mapping(response, "status_details", "response.status_details")
        if details is not None:
            reason = f.opt_text(details, "reason", "response.status_details.reason")
            error = f.opt_mapping(details, "error", "response.status_details.error")
            if error is not None and status == "failed":
                where = "response.status_details.error."
                code = (
                    f.opt_text(error, "code", where + "code")
                    or f.opt_text(error, "type", where + "type")
                    or "response_failed"
                )
                text = f.opt_text(error, "message", where + "message") or "the response failed"
                events.append(SessionError(code, text))
                reason = reason or code
        usage = decode_usage(response, f)
        done_status = cast(ResponseStatus, status)
        events.append(ResponseDone(response_id, done_status, usage, reason))
        return events

    @staticmethod
    def _on_audio_delta(m: Mapping[str, Any]) -> list[ServerEvent]:
        # The hottest handler: about 80% of a spoken conversation's server events.
        get = m.get
        response_id = get("response_id")
        item_id = get("item_id")
        audio = get("delta")
        index = get("content_index", 0)
        if (
            audio.__class__ is str
            and response_id.__class__ is str
            and item_id.__class__ is str
            and index.__class__ is int
        ):
            return [AudioOutputDelta(response_id, item_id, audio, index)]
        # The careful path: null ids, str subclasses, or a malformed message.
        f = _fields(m)
        return [
            AudioOutputDelta(
                *_output_ids(f, m),
                f.text(m, "delta"),
                f.integer(m, "content_index", default=0),
            )
        ]

    @staticmethod
    def _on_audio_done(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [AudioOutputDone(*_output_ids(f, m))]

    @staticmethod
    def _on_transcript_done(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [
            TranscriptOutput(
                *_output_ids(f, m),
                f.text(m, "transcript"),
            )
        ]

    @staticmethod
    def _on_text_done(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [
            TextOutput(
                *_output_ids(f, m),
                f.text(m, "text"),
            )
        ]

    @staticmethod
    def _on_output_item_added(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        item = f.mapping(m, "item")
        if item.get("type") != "function_call":
            return []  # messages are announced by conversation.item.added
        call_id = f.opt_text(item, "call_id", "item.call_id")
        if not call_id:
            return []  # cannot announce a call without its id; tool.call still follows
        return [
            ToolStart(
                call_id,
                f.text(item, "name", "item.name"),
                f.opt_text(item, "id", "item.id"),
                f.opt_text(m, "response_id"),
            )
        ]

    @staticmethod
    def _on_tool_delta(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        return [ToolDelta(f.text(m, "call_id"), f.text(m, "delta"))]

    @staticmethod
    def _on_tool_call(m: Mapping[str, Any]) -> list[ServerEvent]:
        f = _fields(m)
        # The one place a call is reported: response.output_item.done and response.done repeat
        # the same call and are not decoded into tool.call.
        return [
            ToolCall(
                f.text(m, "call_id"),
                f.text(m, "name"),
                f.text(m, "arguments"),
                f.opt_text(m, "item_id"),
                f.opt_text(m, "response_id"),
            )
        ]
