"""The neutral event vocabulary: 12 client events (to a model) and 25 server events (from it).

Events are small slotted dataclasses tagged by ``kind``, a class constant (``ClassVar``) rather
than a field: ``AudioOutputDelta.kind`` and ``event.kind`` both read ``"audio.output.delta"``, and
no constructor takes it. Codecs translate events to and from each provider's wire messages. Audio
arrives base64-encoded on most wires, so server audio events keep the base64 text and decode on
first access: a relay that forwards audio never pays for the round trip, and a consumer that plays
it decodes once.

Events are values: treat them as read-only. Client events are frozen. Server events are not,
only because a frozen dataclass's ``__init__`` stores every field through
``object.__setattr__``, which dominated the cost of decoding a server stream (most of it audio
deltas); a plain slotted ``__init__`` stores fields at interpreter speed. So server events
compare by value but are not hashable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from .base64_audio import b64decode_strict, encode_base64
from .config import ResponseConfig, SessionConfig
from .errors import ProtocolError
from .items import Item

# --- client events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    config: SessionConfig
    kind: ClassVar[Literal["session.update"]] = "session.update"


@dataclass(frozen=True, slots=True)
class ItemCreate:
    item: Item
    previous_item_id: str | None = None
    kind: ClassVar[Literal["item.create"]] = "item.create"


@dataclass(frozen=True, slots=True)
class ItemDelete:
    item_id: str
    kind: ClassVar[Literal["item.delete"]] = "item.delete"


@dataclass(frozen=True, slots=True)
class ItemTruncate:
    item_id: str
    audio_end_ms: int
    content_index: int = 0
    kind: ClassVar[Literal["item.truncate"]] = "item.truncate"


@dataclass(frozen=True, slots=True)
class AudioInputAppend:
    """Raw audio in the session's input format (not base64)."""

    audio: bytes
    kind: ClassVar[Literal["audio.input.append"]] = "audio.input.append"


@dataclass(frozen=True, slots=True)
class AudioInputCommit:
    kind: ClassVar[Literal["audio.input.commit"]] = "audio.input.commit"


@dataclass(frozen=True, slots=True)
class AudioInputClear:
    kind: ClassVar[Literal["audio.input.clear"]] = "audio.input.clear"


@dataclass(frozen=True, slots=True)
class ActivityStart:
    """Manual turn detection: the user started speaking (Gemini ``activityStart``)."""

    kind: ClassVar[Literal["activity.start"]] = "activity.start"


@dataclass(frozen=True, slots=True)
class ActivityEnd:
    kind: ClassVar[Literal["activity.end"]] = "activity.end"


@dataclass(frozen=True, slots=True)
class ResponseCreate:
    config: ResponseConfig | None = None
    kind: ClassVar[Literal["response.create"]] = "response.create"


@dataclass(frozen=True, slots=True)
class ResponseCancel:
    response_id: str | None = None
    kind: ClassVar[Literal["response.cancel"]] = "response.cancel"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of a tool call; ``is_error`` marks an error message the model should see."""

    call_id: str
    output: str
    name: str | None = None
    is_error: bool = False
    kind: ClassVar[Literal["tool.result"]] = "tool.result"


ClientEvent = (
    SessionUpdate
    | ItemCreate
    | ItemDelete
    | ItemTruncate
    | AudioInputAppend
    | AudioInputCommit
    | AudioInputClear
    | ActivityStart
    | ActivityEnd
    | ResponseCreate
    | ResponseCancel
    | ToolResult
)

# --- server events ---------------------------------------------------------------------------


@dataclass(slots=True)
class SessionCreated:
    session_id: str | None = None
    kind: ClassVar[Literal["session.created"]] = "session.created"


@dataclass(slots=True)
class SessionUpdated:
    session_id: str | None = None
    kind: ClassVar[Literal["session.updated"]] = "session.updated"


@dataclass(slots=True)
class SessionError:
    """Something went wrong; the session keeps going unless ``fatal``."""

    code: str
    message: str
    event_id: str | None = None
    param: str | None = None
    fatal: bool = False
    kind: ClassVar[Literal["session.error"]] = "session.error"


@dataclass(slots=True)
class ItemCreated:
    item: Item
    previous_item_id: str | None = None
    kind: ClassVar[Literal["item.created"]] = "item.created"


@dataclass(slots=True)
class ItemDeleted:
    item_id: str
    kind: ClassVar[Literal["item.deleted"]] = "item.deleted"


@dataclass(slots=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int
    content_index: int = 0
    kind: ClassVar[Literal["item.truncated"]] = "item.truncated"


@dataclass(slots=True)
class AudioInputCommitted:
    item_id: str | None = None
    previous_item_id: str | None = None
    kind: ClassVar[Literal["audio.input.committed"]] = "audio.input.committed"


@dataclass(slots=True)
class AudioInputCleared:
    kind: ClassVar[Literal["audio.input.cleared"]] = "audio.input.cleared"


@dataclass(slots=True)
class SpeechStarted:
    item_id: str | None = None
    audio_start_ms: int | None = None
    kind: ClassVar[Literal["speech.started"]] = "speech.started"


@dataclass(slots=True)
class SpeechStopped:
    item_id: str | None = None
    audio_end_ms: int | None = None
    kind: ClassVar[Literal["speech.stopped"]] = "speech.stopped"


@dataclass(slots=True)
class AudioOutputDelta:
    """A chunk of the assistant's audio in the session's output format."""

    response_id: str | None
    item_id: str | None
    audio_b64: str = field(repr=False)
    content_index: int = 0
    # The bytes from_bytes was given (not an init field: replace() makes an event that decodes).
    _audio: bytes | None = field(default=None, init=False, repr=False, compare=False)
    kind: ClassVar[Literal["audio.output.delta"]] = "audio.output.delta"

    @classmethod
    def from_bytes(
        cls, response_id: str | None, item_id: str | None, audio: bytes, content_index: int = 0
    ) -> AudioOutputDelta:
        """From raw audio (in-process models): the bytes are kept, so :attr:`audio` costs
        nothing. Like every event, treat it as a value: do not change ``audio_b64`` later."""
        event = cls(response_id, item_id, encode_base64(audio), content_index)
        event._audio = audio
        return event

    @property
    def audio(self) -> bytes:
        """The decoded audio; raises :class:`ProtocolError` if the base64 is invalid."""
        if self._audio is not None:
            return self._audio
        try:
            return b64decode_strict(self.audio_b64)
        except ValueError as exc:
            raise ProtocolError(f"invalid base64 audio in audio.output.delta: {exc}") from None


@dataclass(slots=True)
class AudioOutputDone:
    response_id: str | None
    item_id: str | None
    kind: ClassVar[Literal["audio.output.done"]] = "audio.output.done"


@dataclass(slots=True)
class TextOutputDelta:
    response_id: str | None
    item_id: str | None
    delta: str
    kind: ClassVar[Literal["text.output.delta"]] = "text.output.delta"


@dataclass(slots=True)
class TextOutput:
    response_id: str | None
    item_id: str | None
    text: str
    kind: ClassVar[Literal["text.output"]] = "text.output"


@dataclass(slots=True)
class TranscriptInputDelta:
    item_id: str | None
    delta: str
    kind: ClassVar[Literal["transcript.input.delta"]] = "transcript.input.delta"


@dataclass(slots=True)
class TranscriptInput:
    item_id: str | None
    text: str
    kind: ClassVar[Literal["transcript.input"]] = "transcript.input"


@dataclass(slots=True)
class TranscriptOutputDelta:
    response_id: str | None
    item_id: str | None
    delta: str
    kind: ClassVar[Literal["transcript.output.delta"]] = "transcript.output.delta"


@dataclass(slots=True)
class TranscriptOutput:
    response_id: str | None
    item_id: str | None
    text: str
    kind: ClassVar[Literal["transcript.output"]] = "transcript.output"


@dataclass(slots=True)
class ResponseCreated:
    response_id: str | None = None
    kind: ClassVar[Literal["response.created"]] = "response.created"


@dataclass(slots=True)
class ResponseInterrupted:
    """The assistant was cut off; ``audio_end_ms`` is how much of ``item_id`` the user heard."""

    response_id: str | None = None
    item_id: str | None = None
    audio_end_ms: int | None = None
    kind: ClassVar[Literal["response.interrupted"]] = "response.interrupted"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    input_cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0


ResponseStatus = Literal["completed", "cancelled", "failed", "incomplete", "in_progress"]


@dataclass(slots=True)
class ResponseDone:
    response_id: str | None
    status: ResponseStatus = "completed"
    usage: Usage | None = None
    reason: str | None = None
    kind: ClassVar[Literal["response.done"]] = "response.done"


@dataclass(slots=True)
class ToolStart:
    call_id: str
    name: str
    item_id: str | None = None
    response_id: str | None = None
    kind: ClassVar[Literal["tool.start"]] = "tool.start"


@dataclass(slots=True)
class ToolDelta:
    call_id: str
    delta: str
    kind: ClassVar[Literal["tool.delta"]] = "tool.delta"


@dataclass(slots=True)
class ToolCall:
    """The model asks for a tool to run; ``arguments`` is the raw JSON text it produced."""

    call_id: str
    name: str
    arguments: str
    item_id: str | None = None
    response_id: str | None = None
    kind: ClassVar[Literal["tool.call"]] = "tool.call"


@dataclass(slots=True)
class ToolCancelled:
    call_id: str
    kind: ClassVar[Literal["tool.cancelled"]] = "tool.cancelled"


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | SessionError
    | ItemCreated
    | ItemDeleted
    | ItemTruncated
    | AudioInputCommitted
    | AudioInputCleared
    | SpeechStarted
    | SpeechStopped
    | AudioOutputDelta
    | AudioOutputDone
    | TextOutputDelta
    | TextOutput
    | TranscriptInputDelta
    | TranscriptInput
    | TranscriptOutputDelta
    | TranscriptOutput
    | ResponseCreated
    | ResponseInterrupted
    | ResponseDone
    | ToolStart
    | ToolDelta
    | ToolCall
    | ToolCancelled
)

CLIENT_EVENT_TYPES: tuple[type[ClientEvent], ...] = ClientEvent.__args__
SERVER_EVENT_TYPES: tuple[type[ServerEvent], ...] = ServerEvent.__args__
