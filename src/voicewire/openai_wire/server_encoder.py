"""Neutral server events -> OpenAI Realtime GA server events, for one client connection.

The neutral vocabulary is leaner than the GA wire: it has no output indexes, content parts or
item lifecycle. A real OpenAI client expects them, so :class:`ServerEventEncoder` keeps a little
state per connection and synthesises them:

* ``session.created`` / ``session.updated`` carry the full session object rendered from
  :attr:`ServerEventEncoder.config` (only the first ``session.created`` is sent).
* For each response: ``response.created`` (with a response object), then for each assistant item
  ``response.output_item.added`` and ``conversation.item.added``, and for each content part
  ``response.content_part.added`` before its first delta; deltas carry ``response_id``,
  ``item_id``, ``output_index`` and ``content_index``; at the end ``response.content_part.done``,
  ``response.output_item.done`` and ``conversation.item.done`` for every open item, then
  ``response.done`` with the items, status and usage.
* User and system items become ``conversation.item.added`` + ``conversation.item.done``.

**Tool calls stay on the server.** The agent's tools run in the server's session, so function-call
items, their outputs and ``tool.*`` events are not sent: a client shown a call would try to answer
it (and could not), and tool arguments and results may hold data the browser should not see. The
same reasoning hides the whole response of a model turn that did nothing visible but call tools:
its ``response.created`` is held back until the response shows something (an item, a delta), and
if it ends having only called tools, neither it nor its ``response.done`` is sent — the client
sees the response that answers with the tools' results instead. ``previous_item_id`` values that
point at hidden items are replaced by the last item the client was shown.

``conversation.item.retrieved`` (:meth:`ServerEventEncoder.retrieved`) renders an item of the
session's history the same way; hidden items are not found.

Events without a GA counterpart (``response.interrupted``, provider extras) encode to ``[]``.
Every GA event produced validates strictly against ``openai.types.realtime.RealtimeServerEvent``
(no unknown keys); ``tests/openai_wire/test_server_encoder.py`` checks this.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import voicewire.protocol.events as ev
from voicewire.protocol import (
    AudioFormat,
    Item,
    MessageItem,
    SessionConfig,
    ToolCallItem,
    ToolResultItem,
)
from voicewire.redaction import redact

from .formats import render_audio_format
from .items import encode_item_for_client
from .session_encode import render_session
from .usage import encode_usage

__all__ = ["ServerEventEncoder"]

Message = dict[str, Any]

_STATUS_TYPES: Final = frozenset({"completed", "cancelled", "incomplete", "failed"})
_STATUS_REASONS: Final = frozenset(
    {"turn_detected", "client_cancelled", "max_output_tokens", "content_filter"}
)
_SERVER_ERROR_CODES: Final = frozenset(
    {"connection_lost", "internal_error", "server_error", "model_unavailable"}
)
_UNKNOWN_TRANSCRIPTION_USAGE: Final[Message] = {
    "type": "tokens",
    "input_tokens": 0,
    "output_tokens": 0,
    "total_tokens": 0,
}
"""The neutral ``transcript.input`` carries no usage, and the GA event requires one: zeros."""


@dataclass(eq=False, slots=True)
class _Part:
    kind: str  # "audio" or "text"
    text: str = ""  # the transcript of an audio part, the text of a text part


@dataclass(eq=False, slots=True)
class _Item:
    id: str
    output_index: int
    parts: list[_Part] = field(default_factory=list)
    part_index: dict[str, int] = field(default_factory=dict)

    def content(self) -> list[Message]:
        return [
            {"type": "output_audio", "transcript": part.text}
            if part.kind == "audio"
            else {"type": "output_text", "text": part.text}
            for part in self.parts
        ]

    def as_json(self, status: str) -> Message:
        return {
            "id": self.id,
            "type": "message",
            "object": "realtime.item",
            "status": status,
            "role": "assistant",
            "content": self.content(),
        }


@dataclass(eq=False, slots=True)
class _Response:
    id: str
    announced: bool = False
    tool_calls: int = 0
    items: list[_Item] = field(default_factory=list)
    by_id: dict[str, _Item] = field(default_factory=dict)


class ServerEventEncoder:
    """Stateful encoder of one connection's server events (see the module docstring).

    Args:
        config: the session as the client may see it; update :attr:`config` after each change
            so ``session.updated`` and response objects show the current formats and voice.
        model: the model name shown in the session object.
    """

    def __init__(self, config: SessionConfig | None = None, *, model: str = "voicewire") -> None:
        self.config = config or SessionConfig()
        self.model = model
        self.conversation_id = f"conv_{secrets.token_hex(8)}"
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._created = False
        self._responses: dict[str, _Response] = {}
        self._current: _Response | None = None
        self.responses_started = 0
        """Responses the model has started on this connection (shown or not)."""
        self._hidden: set[str] = set()
        self._last_item: str | None = None
        self._last_input_item: str | None = None
        # Keyed by event class, so each entry names the type its handler takes; events with no
        # entry have no GA counterpart the client may see.
        self._handlers: dict[type[ev.ServerEvent], Callable[[Any], list[Message]]] = {
            ev.SessionCreated: self._session_created,
            ev.SessionUpdated: self._session_updated,
            ev.SessionError: self._error,
            ev.ItemCreated: self._item_created,
            ev.ItemDeleted: self._item_deleted,
            ev.ItemTruncated: self._item_truncated,
            ev.AudioInputCommitted: self._committed,
            ev.AudioInputCleared: self._cleared,
            ev.SpeechStarted: self._speech_started,
            ev.SpeechStopped: self._speech_stopped,
            ev.AudioOutputDelta: self._audio_delta,
            ev.AudioOutputDone: self._audio_done,
            ev.TranscriptOutputDelta: self._transcript_delta,
            ev.TranscriptOutput: self._transcript_done,
            ev.TextOutputDelta: self._text_delta,
            ev.TextOutput: self._text_done,
            ev.TranscriptInputDelta: self._input_transcript_delta,
            ev.TranscriptInput: self._input_transcript,
            ev.ResponseCreated: self._response_created,
            ev.ResponseDone: self._response_done,
            ev.ToolStart: self._tool_event,
            ev.ToolCall: self._tool_event,
        }

    def encode(self, event: ev.ServerEvent) -> list[Message]:
        """The GA server events (JSON-ready dicts, each with an ``event_id``) for ``event``."""
        handler = self._handlers.get(type(event))
        return handler(event) if handler is not None else []

    @property
    def current_response_id(self) -> str | None:
        """The response the model is producing now, if any."""
        return self._current.id if self._current is not None else None

    def retrieved(self, item_id: str, item: Item | None) -> Message | None:
        """``conversation.item.retrieved`` for ``item`` (the session's history holds it under
        ``item_id``), or ``None`` when the client may not see it: unknown, or a tool item."""
        if not self.shows(item_id, item):
            return None
        assert isinstance(item, MessageItem)
        return self._event(
            "conversation.item.retrieved", item=encode_item_for_client(item, item_id)
        )

    def shows(self, item_id: str, item: Item | None) -> bool:
        """Whether the client may see ``item`` (held under ``item_id``): a message it was not
        hidden (the agent's tool calls and outputs are the server's)."""
        return isinstance(item, MessageItem) and item_id not in self._hidden

    def error(
        self,
        code: str,
        message: str,
        *,
        event_id: str | None = None,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> Message:
        """An ``error`` event (for problems the server finds itself, such as a bad frame)."""
        return self._event(
            "error",
            error={
                "type": error_type,
                "code": code,
                "message": message,
                "param": param,
                "event_id": event_id,
            },
        )

    # -- ids and envelopes -----------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_vw{self._prefix}{next(self._counter):06d}"

    def _event(self, type_: str, **fields: Any) -> Message:
        return {"type": type_, "event_id": self._id("event"), **fields}

    def _visible_previous(self, previous: str | None) -> str | None:
        if previous is None or previous in self._hidden:
            return self._last_item
        return previous

    # -- session ---------------------------------------------------------------------------------

    def _session(self) -> Message:
        return render_session(self.config, model=self.model)

    def _session_created(self, event: ev.SessionCreated) -> list[Message]:
        if self._created:
            return []
        self._created = True
        return [self._event("session.created", session=self._session())]

    def _session_updated(self, event: ev.SessionUpdated) -> list[Message]:
        return [self._event("session.updated", session=self._session())]

    def _error(self, event: ev.SessionError) -> list[Message]:
        server_side = event.fatal or event.code in _SERVER_ERROR_CODES
        return [
            self.error(
                event.code,
                redact(event.message),  # provider errors may quote a (masked) key
                event_id=event.event_id,
                param=event.param,
                error_type="server_error" if server_side else "invalid_request_error",
            )
        ]

    # -- conversation items ----------------------------------------------------------------------

    def _item_created(self, event: ev.ItemCreated) -> list[Message]:
        item = event.item
        if isinstance(item, ToolCallItem | ToolResultItem):
            if item.id is not None:
                self._hidden.add(item.id)
            return []
        response = self._current
        if item.role == "assistant" and response is not None:
            if item.id is not None and self._known_output(item.id):
                return []  # already announced by its first delta
            out = self._announce(response)
            out += self._open_item(response, item.id)[0]
            return out
        item_id = item.id or self._id("item")
        previous = self._visible_previous(event.previous_item_id)
        encoded = encode_item_for_client(item, item_id)
        self._last_item = item_id
        return [
            self._event("conversation.item.added", previous_item_id=previous, item=encoded),
            self._event("conversation.item.done", previous_item_id=previous, item=encoded),
        ]

    def _known_output(self, item_id: str) -> bool:
        return any(item_id in response.by_id for response in self._responses.values())

    def _item_deleted(self, event: ev.ItemDeleted) -> list[Message]:
        if event.item_id in self._hidden:
            return []
        return [self._event("conversation.item.deleted", item_id=event.item_id)]

    def _item_truncated(self, event: ev.ItemTruncated) -> list[Message]:
        return [
            self._event(
                "conversation.item.truncated",
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
            )
        ]

    # -- input audio -----------------------------------------------------------------------------

    def _committed(self, event: ev.AudioInputCommitted) -> list[Message]:
        item_id = event.item_id or self._id("item")
        self._last_input_item = item_id
        return [
            self._event(
                "input_audio_buffer.committed",
                previous_item_id=self._visible_previous(event.previous_item_id),
                item_id=item_id,
            )
        ]

    def _cleared(self, event: ev.AudioInputCleared) -> list[Message]:
        return [self._event("input_audio_buffer.cleared")]

    def _speech_started(self, event: ev.SpeechStarted) -> list[Message]:
        item_id = event.item_id or self._id("item")
        self._last_input_item = item_id
        return [
            self._event(
                "input_audio_buffer.speech_started",
                audio_start_ms=event.audio_start_ms or 0,
                item_id=item_id,
            )
        ]

    def _speech_stopped(self, event: ev.SpeechStopped) -> list[Message]:
        item_id = event.item_id or self._last_input_item or self._id("item")
        return [
            self._event(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=event.audio_end_ms or 0,
                item_id=item_id,
            )
        ]

    def _input_item(self, item_id: str | None) -> str:
        return item_id or self._last_input_item or self._id("item")

    def _input_transcript_delta(self, event: ev.TranscriptInputDelta) -> list[Message]:
        return [
            self._event(
                "conversation.item.input_audio_transcription.delta",
                item_id=self._input_item(event.item_id),
                content_index=0,
                delta=event.delta,
            )
        ]

    def _input_transcript(self, event: ev.TranscriptInput) -> list[Message]:
        return [
            self._event(
                "conversation.item.input_audio_transcription.completed",
                item_id=self._input_item(event.item_id),
                content_index=0,
                transcript=event.text,
                usage=dict(_UNKNOWN_TRANSCRIPTION_USAGE),
            )
        ]

    # -- responses -------------------------------------------------------------------------------

    def _response(self, response_id: str | None) -> _Response:
        """The response an output event belongs to; opened on the fly for models that stream
        output without announcing a response."""
        if response_id is None:
            if self._current is not None:
                return self._current
            response_id = self._id("resp")
        response = self._responses.get(response_id)
        if response is None:
            response = self._responses[response_id] = _Response(response_id)
            self._current = response
        return response

    def _response_created(self, event: ev.ResponseCreated) -> list[Message]:
        self.responses_started += 1
        self._current = self._response(event.response_id or self._id("resp"))
        return []  # announced with its first visible output: see the module docstring

    def _tool_event(self, event: ev.ToolStart | ev.ToolCall) -> list[Message]:
        response = self._current if event.response_id is None else self._response(event.response_id)
        if response is not None and isinstance(event, ev.ToolCall):
            response.tool_calls += 1
        if event.item_id is not None:
            self._hidden.add(event.item_id)
        return []

    def _announce(self, response: _Response) -> list[Message]:
        if response.announced:
            return []
        response.announced = True
        return [self._event("response.created", response=self._response_json(response))]

    def _open_item(self, response: _Response, item_id: str | None) -> tuple[list[Message], _Item]:
        item = _Item(item_id or self._id("item"), len(response.items))
        response.items.append(item)
        response.by_id[item.id] = item
        previous = self._last_item
        self._last_item = item.id
        in_progress = item.as_json("in_progress")
        return [
            self._event(
                "response.output_item.added",
                response_id=response.id,
                output_index=item.output_index,
                item=in_progress,
            ),
            self._event("conversation.item.added", previous_item_id=previous, item=in_progress),
        ], item

    def _output(
        self, response_id: str | None, item_id: str | None, kind: str
    ) -> tuple[list[Message], _Response, _Item, int]:
        """Where an output event goes, with the events that must precede it."""
        response = self._response(response_id)
        out = self._announce(response)
        item = response.by_id.get(item_id) if item_id is not None else None
        if item is None and item_id is None and response.items:
            item = response.items[-1]
        if item is None:
            opened, item = self._open_item(response, item_id)
            out += opened
        index = item.part_index.get(kind)
        if index is None:
            index = item.part_index[kind] = len(item.parts)
            item.parts.append(_Part(kind))
            part = {"type": "audio", "transcript": ""} if kind == "audio" else {"type": "text"}
            if kind == "text":
                part["text"] = ""
            out.append(
                self._event(
                    "response.content_part.added",
                    response_id=response.id,
                    item_id=item.id,
                    output_index=item.output_index,
                    content_index=index,
                    part=part,
                )
            )
        return out, response, item, index

    def _delta(
        self, type_: str, event: Any, kind: str, extra: Message
    ) -> tuple[list[Message], _Item, int]:
        out, response, item, index = self._output(event.response_id, event.item_id, kind)
        out.append(
            self._event(
                type_,
                response_id=response.id,
                item_id=item.id,
                output_index=item.output_index,
                content_index=index,
                **extra,
            )
        )
        return out, item, index

    def _audio_delta(self, event: ev.AudioOutputDelta) -> list[Message]:
        # The hot path (one event per 20-100 ms of speech): a known item costs three lookups.
        response = self._responses.get(event.response_id) if event.response_id else None
        if response is not None and response.announced and event.item_id is not None:
            item = response.by_id.get(event.item_id)
            index = item.part_index.get("audio") if item is not None else None
            if item is not None and index is not None:
                return [
                    {
                        "type": "response.output_audio.delta",
                        "event_id": self._id("event"),
                        "response_id": response.id,
                        "item_id": item.id,
                        "output_index": item.output_index,
                        "content_index": index,
                        "delta": event.audio_b64,
                    }
                ]
        extra = {"delta": event.audio_b64}
        return self._delta("response.output_audio.delta", event, "audio", extra)[0]

    def _audio_done(self, event: ev.AudioOutputDone) -> list[Message]:
        return self._delta("response.output_audio.done", event, "audio", {})[0]

    def _transcript_delta(self, event: ev.TranscriptOutputDelta) -> list[Message]:
        out, item, index = self._delta(
            "response.output_audio_transcript.delta", event, "audio", {"delta": event.delta}
        )
        item.parts[index].text += event.delta
        return out

    def _transcript_done(self, event: ev.TranscriptOutput) -> list[Message]:
        out, item, index = self._delta(
            "response.output_audio_transcript.done", event, "audio", {"transcript": event.text}
        )
        item.parts[index].text = event.text
        return out

    def _text_delta(self, event: ev.TextOutputDelta) -> list[Message]:
        out, item, index = self._delta(
            "response.output_text.delta", event, "text", {"delta": event.delta}
        )
        item.parts[index].text += event.delta
        return out

    def _text_done(self, event: ev.TextOutput) -> list[Message]:
        out, item, index = self._delta(
            "response.output_text.done", event, "text", {"text": event.text}
        )
        item.parts[index].text = event.text
        return out

    def _response_done(self, event: ev.ResponseDone) -> list[Message]:
        response = self._response(event.response_id)
        del self._responses[response.id]
        if self._current is response:
            self._current = None
        if not response.announced and response.tool_calls and not response.items:
            return []  # a turn that only called tools: the client sees the next response
        out = self._announce(response)
        item_status = "completed" if event.status == "completed" else "incomplete"
        for item in response.items:
            for index, part in enumerate(item.parts):
                done_part = (
                    {"type": "audio", "transcript": part.text}
                    if part.kind == "audio"
                    else {"type": "text", "text": part.text}
                )
                out.append(
                    self._event(
                        "response.content_part.done",
                        response_id=response.id,
                        item_id=item.id,
                        output_index=item.output_index,
                        content_index=index,
                        part=done_part,
                    )
                )
            final = item.as_json(item_status)
            out.append(
                self._event(
                    "response.output_item.done",
                    response_id=response.id,
                    output_index=item.output_index,
                    item=final,
                )
            )
            out.append(self._event("conversation.item.done", item=final))
        body = self._response_json(response, event)
        out.append(self._event("response.done", response=body))
        return out

    def _response_json(self, response: _Response, done: ev.ResponseDone | None = None) -> Message:
        config = self.config
        modalities = ["text"] if config.modalities and "audio" not in config.modalities else None
        output_format: AudioFormat = config.output_audio_format or AudioFormat.pcm16()
        audio_output: Message = {"format": render_audio_format(output_format)}
        if config.voice is not None and config.voice.voice_id is not None:
            audio_output["voice"] = config.voice.voice_id
        status = "in_progress" if done is None else done.status
        details: Message | None = None
        if done is not None and done.status in _STATUS_TYPES and done.status != "completed":
            details = {"type": done.status}
            if done.reason in _STATUS_REASONS:
                details["reason"] = done.reason
        item_status = "completed" if status == "completed" else "incomplete"
        return {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": [item.as_json(item_status) for item in response.items] if done else [],
            "conversation_id": self.conversation_id,
            "output_modalities": modalities or ["audio"],
            "max_output_tokens": config.max_output_tokens or "inf",
            "audio": {"output": audio_output},
            "usage": encode_usage(done.usage) if done is not None and done.usage else None,
            "metadata": None,
        }
