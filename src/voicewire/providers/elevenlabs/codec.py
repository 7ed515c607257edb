"""Sans-I/O codec for the ElevenLabs Agents WebSocket (``wss://api.elevenlabs.io/v1/convai/
conversation``), after the newest official AsyncAPI (``agent.asyncapi.yaml``).

One codec serves one connection: it holds the conversation's synthesized ids, the audio format
bridge and the interruption filter (:mod:`.turns`). No sockets, no asyncio.

Client side (:meth:`ElevenLabsCodec.encode_client`):

=========================  =========================================================================
neutral                    ElevenLabs
=========================  =========================================================================
``audio.input.append``     ``{"user_audio_chunk": b64}`` in the agent's input format (converted)
``item.create`` user text  ``user_message`` (the agent answers it)
``item.create`` system     ``contextual_update`` (background the agent reads, without answering)
``item.create`` record     ``contextual_update`` "Earlier in this conversation ...": a *completed*
                           message, tool call or tool result is the record of a past turn (the
                           session's replay after a reconnect sends them so); ElevenLabs takes no
                           history, so the new conversation is told it as context
``tool.result``            ``client_tool_result`` (``result`` a string, ``is_error``)
anything else              ``None``: truncation, deletion, response create/cancel, input
                           commit/clear, activity signals and live ``session.update`` have no
                           message (the connection raises ``UnsupportedEventError``)
=========================  =========================================================================

The app's audio reaches the agent through a streaming resampler when their formats differ, which
holds the last 20-60 ms until more comes; :meth:`ElevenLabsCodec.send_idle` lets that tail out
once the app has sent no audio for :data:`INPUT_RELEASE_AFTER_S` (the connection's writer calls it
when it has had nothing to write that long), so the end of what the user said reaches the agent
even when nothing follows it (a WAV file ends, the mic is muted, the user waits for the answer).
And once a conversation has had audio, :data:`SILENCE_EVERY_S` without any sends a short chunk of
silence: ElevenLabs ends a conversation that hears nothing from its client for 60 s
(``transport_receive_timeout``), and a muted session sends no audio at all (a muted phone sends
silence too).

ElevenLabs echoes none of these, so :meth:`ElevenLabsCodec.written` gives the ``item.created``
that acknowledges each item and tool result once it is on the socket (the session's ledger needs
it, see :mod:`voicewire.session.unacked`).

Server side (:meth:`ElevenLabsCodec.decode_server_text`): see :mod:`.turns` for how turns,
items, interruptions and corrections become neutral events. ``ping`` yields a
:class:`~voicewire.providers.codec_connection.Reply` (the ``pong`` with the same ``event_id``),
which the connection sends at once. ``conversation_initiation_metadata`` is ``session.created``
(its ``conversation_id``) and ``session.updated``, and sets the audio formats. ``error`` is a
``session.error`` (the server closes the socket after it; the close is reported with its words by
:meth:`ElevenLabsCodec.describe_close`, as an error no session retries when a new conversation
would end the same way). ``guardrail_triggered`` is a ``session.error``.
``context_usage`` becomes the usage of the next ``response.done``. :meth:`ElevenLabsCodec.idle`
(the connection calls it after :meth:`ElevenLabsCodec.idle_after` seconds without a frame) ends
what only quiet can end: the resampled audio's held tail and the agent's response. The rest is
informational and ignored (:data:`IGNORED_SERVER_TYPES`, each with its reason); unknown types
are ignored too (newer than this codec); a malformed message raises :class:`ProtocolError`
naming the field.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from pydantic_core import from_json as _parse_json

from ... import __version__
from ...openai_wire.fields import MISSING, ServerEventFields, describe
from ...protocol import (
    AudioFormat,
    AudioInputAppend,
    ClientEvent,
    Item,
    ItemCreate,
    ItemCreated,
    MessageItem,
    ProtocolError,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdated,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
)
from ...protocol.base64_audio import encode_base64
from ...redaction import redact
from ..codec_connection import INPUT_RELEASE_AFTER_S, Reply
from .audio_formats import DEFAULT_WIRE_FORMAT, FormatBridge, parse_wire_format
from .initiation import initiation_message
from .turns import Turns

__all__ = [
    "DEFAULT_APP_FORMAT",
    "FINAL_CLOSES",
    "FINAL_ERROR_TYPES",
    "IGNORED_SERVER_TYPES",
    "INPUT_RELEASE_AFTER_S",
    "SILENCE_EVERY_S",
    "ElevenLabsCodec",
]

DEFAULT_APP_FORMAT: Final = AudioFormat.pcm16(24000)
"""The app's audio format when the session config names none (the session's own default)."""

SILENCE_EVERY_S: Final = 20.0
"""Seconds without client audio, in a conversation that has had some, after which a chunk of
silence goes out (ElevenLabs' ``transport_receive_timeout`` is 60 s without client input)."""
_SILENCE_S: Final = 0.1

IGNORED_SERVER_TYPES: Final[Mapping[str, str]] = {
    "vad_score": "the agent's voice detection score; turns are reported by transcripts and "
    "interruptions",
    "internal_turn_probability": "the turn model's internal score",
    "internal_tentative_agent_response": "an answer the agent may not give",
    "agent_reasoning_response_part": "the LLM's reasoning, not said to the user",
    "agent_tool_request": "a server-side tool (webhook, system, MCP) runs inside ElevenLabs",
    "agent_tool_response": "a server-side tool's outcome, which the agent speaks about",
    "agent_tool_response_full_payload": "a server-side tool's full result",
    "mcp_tool_call": "an MCP tool runs inside ElevenLabs",
    "mcp_connection_status": "MCP integrations of the agent",
    "asr_initiation_metadata": "the recogniser's settings",
    "agent_typing": "a typing indicator for chat widgets",
    "rich_content": "a UI card for ElevenLabs' widget; the neutral vocabulary has no such event",
    "external_agent_connected": "a transfer to an external agent (its words arrive as usual)",
    "external_agent_disconnected": "the end of such a transfer",
}
"""Server types the codec knows and deliberately decodes to nothing, with the reason."""

_CLOSE_MEANINGS: Final[Mapping[int, str]] = {
    1000: "the conversation ended (the agent ended the call, or its maximum duration passed)",
    1002: "an operational error at ElevenLabs (a timeout, a policy violation, an LLM, TTS or "
    "ASR failure)",
    1008: "ElevenLabs refused this conversation's input (a bad message, a missing dynamic "
    "variable, or an override the agent does not allow)",
    1011: "an internal error at ElevenLabs",
}
FINAL_CLOSES: Final[Mapping[int, str]] = {
    1000: "conversation_ended",
    1008: "conversation_refused",
}
"""Close codes after which a new conversation would end the same way, and the error code they
become (an ``error`` event's ``error_type`` before the close takes precedence). 1000: the agent
ended the call, or its maximum duration passed; 1008: the conversation's input was refused (an
override the agent does not allow, a missing dynamic variable, a bad message)."""
FINAL_ERROR_TYPES: Final = frozenset(
    {"safety_violation", "max_duration_exceeded", "transport_receive_timeout"}
)
"""``error`` types after which the close is final whatever its code: ElevenLabs ended the
conversation on purpose (a content policy, the agent's maximum duration, no input from the
client for 60 s), and a session that opened a new one would defeat that (and, after the idle
timeout, open one a minute while nobody is there)."""
_CHUNK_KEY: Final = "user_audio_chunk"

_Handler = Callable[[Mapping[str, Any]], Sequence[ServerEvent | Reply]]


class ElevenLabsCodec:
    """Translate between neutral events and the ElevenLabs Agents wire, for one connection."""

    def __init__(
        self, config: SessionConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``config``: the session's, for the first frame (:attr:`initiation`), the app's
        audio formats and the output modality. ``clock``: seconds, for the quiet that ends the
        agent's turn (ElevenLabs never says it ended; see :mod:`.turns`)."""
        config = config or SessionConfig()
        self.initiation, self.overrides = initiation_message(config, source_version=__version__)
        """The ``conversation_initiation_client_data`` frame, and the overrides it asks for."""
        self.bridge = FormatBridge(
            config.input_audio_format or DEFAULT_APP_FORMAT,
            config.output_audio_format or DEFAULT_APP_FORMAT,
        )
        text_only = config.modalities is not None and list(config.modalities) == ["text"]
        self.turns = Turns(self.bridge, text_only=text_only, clock=clock)
        self.conversation_id: str | None = None
        self.last_error: str | None = None
        self._input_held = False  # the input resampler may hold the end of the user's audio
        self._clock = clock
        self._audio_at: float | None = None  # when client audio last went out
        """The words of the last ``error`` event (the close that follows repeats them)."""
        self._last_error_type: str | None = None
        self._handlers: dict[str, _Handler] = {
            "audio": self._on_audio,
            "ping": self._on_ping,
            "conversation_initiation_metadata": self._on_metadata,
            "agent_response": self._on_agent_response,
            "agent_chat_response_part": self._on_response_part,
            "agent_response_correction": self._on_correction,
            "user_transcript": self._on_user_transcript,
            "tentative_user_transcript": self._on_tentative_transcript,
            "interruption": self._on_interruption,
            "client_tool_call": self._on_tool_call,
            "context_usage": self._on_context_usage,
            "error": self._on_error,
            "guardrail_triggered": self._on_guardrail,
        }

    def __repr__(self) -> str:
        return f"ElevenLabsCodec(conversation_id={self.conversation_id!r})"

    @property
    def handled_types(self) -> frozenset[str]:
        """Server types decoded into events or replies."""
        return frozenset(self._handlers)

    # -- client ----------------------------------------------------------------------------------

    def encode_client(self, event: ClientEvent) -> dict[str, Any] | None:
        """The message for ``event``, or ``None`` when ElevenLabs has none (see the module)."""
        if isinstance(event, AudioInputAppend):
            self._input_held = not self.bridge.input_passthrough
            self._audio_at = self._clock()
            return {_CHUNK_KEY: encode_base64(self.bridge.to_wire(event.audio))}
        if isinstance(event, ToolResult):
            return {
                "type": "client_tool_result",
                "tool_call_id": event.call_id,
                "result": event.output,
                "is_error": event.is_error,
            }
        if isinstance(event, ItemCreate):
            return self._encode_item(event)
        return None

    def send_idle_after(self) -> float | None:
        """Seconds without client audio after which :meth:`send_idle` has the end of it to send,
        or ``None`` (the :class:`~voicewire.providers.codec_connection.CodecConnection` hook)."""
        if self._input_held:
            return INPUT_RELEASE_AFTER_S
        if self._audio_at is None:
            return None  # no audio yet (a text conversation): nothing to keep up
        return max(0.0, self._audio_at + SILENCE_EVERY_S - self._clock())

    def send_idle(self) -> list[dict[str, Any]]:
        """The app's audio paused: the ``user_audio_chunk`` with what the input resampler held
        (none when it held nothing), or, after :data:`SILENCE_EVERY_S` without audio, one of
        silence in the agent's input format."""
        if self._input_held:
            self._input_held = False
            tail = self.bridge.end_input()
            return [{_CHUNK_KEY: encode_base64(tail)}] if tail else []
        now = self._clock()
        if self._audio_at is None or now - self._audio_at < SILENCE_EVERY_S:
            return []
        self._audio_at = now
        return [{_CHUNK_KEY: encode_base64(silence_of(self.bridge.wire_input, _SILENCE_S))}]

    def written(self, event: ClientEvent) -> list[ServerEvent]:
        """What acknowledges ``event`` once it is on the socket (ElevenLabs echoes nothing): the
        ``item.created`` of the item, or of the tool result, the session keeps until then."""
        if isinstance(event, ItemCreate):
            item = event.item
            if item.id is None:
                item = _with_id(item, self.turns.new_id("item"))
            assert item.id is not None
            if isinstance(item, MessageItem) and item.role == "user" and item.status != "completed":
                self.turns.typed(item.text)
            return [ItemCreated(item, self.turns.follows(item.id))]
        if isinstance(event, ToolResult):
            self.turns.tool_answered(event.call_id)
            item_id = self.turns.new_id("item")
            result = ToolResultItem(item_id, event.call_id, event.output, event.name)
            return [ItemCreated(result, self.turns.follows(item_id))]
        return []

    def _encode_item(self, event: ItemCreate) -> dict[str, Any] | None:
        item = event.item
        if isinstance(item, MessageItem):
            text = item.text
            if not text:
                return None  # audio without words: ElevenLabs takes audio only as a stream
            if item.status == "completed":
                who = {"user": "the user", "assistant": "you (the agent)"}.get(item.role)
                if who is not None:
                    return _context(f"Earlier in this conversation {who} said: {text}")
            if item.role == "user":
                return {"type": "user_message", "text": text}
            return _context(text)
        if isinstance(item, ToolCallItem):
            return _context(
                f"Earlier in this conversation you called the tool {item.name} "
                f"(call {item.call_id}) with the arguments {item.arguments}"
            )
        name = f"the tool {item.name}" if item.name else "a tool"
        return _context(
            f"Earlier in this conversation {name} (call {item.call_id}) returned: {item.output}"
        )

    # -- server ----------------------------------------------------------------------------------

    def decode_server_text(self, text: str | bytes) -> Sequence[ServerEvent | Reply]:
        """Events and replies for one text frame; bad JSON raises :class:`ProtocolError`."""
        try:
            message = _parse_json(text)
        except (ValueError, TypeError) as exc:
            raise ProtocolError(
                f"the server sent malformed JSON: {exc}", code="invalid_json"
            ) from None
        return self.decode_server(message)

    def decode_server(self, message: object) -> Sequence[ServerEvent | Reply]:
        """Events and replies for one parsed server message (``[]`` for ignored and unknown
        types)."""
        if not isinstance(message, Mapping):
            raise ProtocolError(
                f"an elevenlabs message must be a JSON object, got {type(message).__name__}"
            )
        kind = message.get("type", MISSING)
        if not isinstance(kind, str):
            raise ProtocolError(
                f"an elevenlabs message needs a string 'type', got {describe(kind)}"
            )
        handler = self._handlers.get(kind)
        if handler is None:
            return []
        return handler(message)

    def describe_close(self, code: int | None, reason: str) -> str | SessionError | None:
        """What the socket closing with ``code`` means, in the last ``error`` event's words or
        the code's: words for ``connection_lost`` when a new conversation may go better (1002,
        1011: a timeout, a failure at ElevenLabs), or a fatal :class:`SessionError` that a
        session does not retry (see :data:`FINAL_CLOSES`: the agent ended the conversation, or
        refused this one's input, which it would refuse again; and :data:`FINAL_ERROR_TYPES`)."""
        if code is None:
            return None
        said = f"elevenlabs closed the conversation (code {code}{': ' + reason if reason else ''})"
        meaning = self.last_error or _CLOSE_MEANINGS.get(code)
        if code == 1008 and self.overrides and "override" in (self.last_error or "override"):
            meaning = (
                f"{meaning or 'refused'}; this conversation asked to override "
                f"{', '.join(self.overrides)}, and each override must be enabled in the agent's "
                "security settings"
            )
        text = redact(f"{said}: {meaning}" if meaning else said)
        final = FINAL_CLOSES.get(code)
        if final is None and self._last_error_type in FINAL_ERROR_TYPES:
            final = self._last_error_type
        if final is None:
            return text
        return SessionError(self._last_error_type or final, text, fatal=True)

    def idle_after(self) -> float | None:
        """Seconds from now after which :meth:`idle` has something to say, or ``None`` (the
        :class:`~voicewire.providers.codec_connection.CodecConnection` hook)."""
        return self.turns.idle_after()

    def idle(self) -> list[ServerEvent]:
        """The agent has been quiet: the end of its audio the resampler held, and the end of its
        response (see :mod:`.turns`)."""
        return self.turns.idle()

    # -- handlers --------------------------------------------------------------------------------

    def _on_audio(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        event = m.get("audio_event")
        if event.__class__ is dict:
            event_id = event.get("event_id")
            audio = event.get("audio_base_64")
            if event_id.__class__ is int and audio.__class__ is str:
                return self.turns.audio(event_id, audio)
        f = ServerEventFields("audio")
        data = f.mapping(m, "audio_event")
        event_id = f.integer(data, "event_id", "audio_event.event_id")
        audio = f.text(data, "audio_base_64", "audio_event.audio_base_64")
        return self.turns.audio(event_id, audio)

    @staticmethod
    def _on_ping(m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("ping")
        event_id = f.integer(f.mapping(m, "ping_event"), "event_id", "ping_event.event_id")
        return [Reply({"type": "pong", "event_id": event_id})]

    def _on_metadata(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("conversation_initiation_metadata")
        where = "conversation_initiation_metadata_event"
        data = f.mapping(m, where)
        conversation_id = f.text(data, "conversation_id", f"{where}.conversation_id")
        formats = []
        for key in ("user_input_audio_format", "agent_output_audio_format"):
            try:
                formats.append(parse_wire_format(data.get(key, DEFAULT_WIRE_FORMAT), key))
            except ProtocolError as exc:
                raise ProtocolError(f"malformed {f.event_type!r} server event: {exc}") from None
        self.bridge.announce(*formats)
        self.conversation_id = conversation_id
        return [SessionCreated(conversation_id), SessionUpdated(conversation_id)]

    def _on_agent_response(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("agent_response")
        where = "agent_response_event"
        data = f.mapping(m, where)
        event_id = f.integer(data, "event_id", f"{where}.event_id")
        text = f.text(data, "agent_response", f"{where}.agent_response")
        return self.turns.agent_text(event_id, text)

    def _on_response_part(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("agent_chat_response_part")
        where = "text_response_part"
        data = f.mapping(m, where)
        event_id = f.integer(data, "event_id", f"{where}.event_id")
        kind = f.choice(data.get("type"), f"{where}.type", ("start", "delta", "stop"))
        text = f.text(data, "text", f"{where}.text")
        return self.turns.text_part(event_id, kind, text)

    def _on_correction(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("agent_response_correction")
        where = "agent_response_correction_event"
        data = f.mapping(m, where)
        f.integer(data, "event_id", f"{where}.event_id")
        original = f.text(data, "original_agent_response", f"{where}.original_agent_response")
        corrected = f.text(data, "corrected_agent_response", f"{where}.corrected_agent_response")
        return self.turns.correction(original, corrected)

    def _on_user_transcript(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        text = _transcript(m, "user_transcript", "user_transcription_event")
        return self.turns.user_final(text)

    def _on_tentative_transcript(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        text = _transcript(m, "tentative_user_transcript", "tentative_user_transcription_event")
        return self.turns.user_tentative(text)

    def _on_interruption(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("interruption")
        data = f.mapping(m, "interruption_event")
        event_id = f.integer(data, "event_id", "interruption_event.event_id")
        return self.turns.interruption(event_id)

    def _on_tool_call(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("client_tool_call")
        where = "client_tool_call"
        data = f.mapping(m, where)
        event_id = f.integer(data, "event_id", f"{where}.event_id")
        call_id = f.text(data, "tool_call_id", f"{where}.tool_call_id")
        name = f.text(data, "tool_name", f"{where}.tool_name")
        parameters = f.opt_mapping(data, "parameters", f"{where}.parameters") or {}
        return self.turns.tool_call(event_id, call_id, name, dict(parameters))

    def _on_context_usage(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("context_usage")
        where = "context_usage_event"
        data = f.mapping(m, where)
        self.turns.context_usage(f.integer(data, "context_tokens", f"{where}.context_tokens"))
        return []

    def _on_error(self, m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        f = ServerEventFields("error")
        where = "error_event"
        data = f.mapping(m, where)
        code = f.opt_integer(data, "code", f"{where}.code")
        kind = f.opt_text(data, "error_type", f"{where}.error_type") or "elevenlabs_error"
        words = [
            text
            for key in ("message", "reason", "debug_message")
            if (text := f.opt_text(data, key, f"{where}.{key}"))
        ]
        said = redact(f"{kind}: {'; '.join(dict.fromkeys(words)) or 'no reason given'}")
        self.last_error, self._last_error_type = said, kind
        return [SessionError(kind, said + (f" (close code {code})" if code else ""))]

    @staticmethod
    def _on_guardrail(m: Mapping[str, Any]) -> Sequence[ServerEvent | Reply]:
        return [
            SessionError(
                "guardrail_triggered",
                "an ElevenLabs guardrail stopped the agent's answer (see the agent's guardrails)",
            )
        ]


def silence_of(fmt: AudioFormat, seconds: float) -> bytes:
    """``seconds`` of silence in ``fmt`` (µ-law silence is 0xFF, PCM silence zeros)."""
    size = int(fmt.bytes_per_second * seconds)
    return {"pcmu": b"\xff", "pcma": b"\xd5"}.get(fmt.encoding, b"\x00") * size


def _transcript(m: Mapping[str, Any], kind: str, where: str) -> str:
    f = ServerEventFields(kind)
    data = f.mapping(m, where)
    f.integer(data, "event_id", f"{where}.event_id")
    return f.text(data, "user_transcript", f"{where}.user_transcript")


def _context(text: str) -> dict[str, Any]:
    return {"type": "contextual_update", "text": text}


def _with_id(item: Item, item_id: str) -> Item:
    return replace(item, id=item_id)
