"""The neutral event vocabulary: 12 client events (to a model) and 25 server events (from it).

Events are small slotted dataclasses tagged by ``kind``; codecs translate them to and from each
provider's wire messages. Audio arrives base64-encoded on most wires, so server audio events keep
the base64 text and decode on first access: a relay that forwards audio never pays for the round
trip, and a consumer that plays it decodes once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Literal

from .config import ResponseConfig, SessionConfig
from .errors import ProtocolError
from .items import Item

# --- client events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    config: SessionConfig
    kind: Literal["session.update"] = "session.update"


@dataclass(frozen=True, slots=True)
class ItemCreate:
    item: Item
    previous_item_id: str | None = None
    kind: Literal["item.create"] = "item.create"


@dataclass(frozen=True, slots=True)
class ItemDelete:
    item_id: str
    kind: Literal["item.delete"] = "item.delete"


@dataclass(frozen=True, slots=True)
class ItemTruncate:
    item_id: str
    audio_end_ms: int
    content_index: int = 0
    kind: Literal["item.truncate"] = "item.truncate"


@dataclass(frozen=True, slots=True)
class AudioInputAppend:
    """Raw audio in the session's input format (not base64)."""

    audio: bytes
    kind: Literal["audio.input.append"] = "audio.input.append"


@dataclass(frozen=True, slots=True)
class AudioInputCommit:
    kind: Literal["audio.input.commit"] = "audio.input.commit"


@dataclass(frozen=True, slots=True)
class AudioInputClear:
    kind: Literal["audio.input.clear"] = "audio.input.clear"


@dataclass(frozen=True, slots=True)
class ActivityStart:
    """Manual turn detection: the user started speaking (Gemini ``activityStart``)."""

    kind: Literal["activity.start"] = "activity.start"


@dataclass(frozen=True, slots=True)
class ActivityEnd:
    kind: Literal["activity.end"] = "activity.end"


@dataclass(frozen=True, slots=True)
class ResponseCreate:
    config: ResponseConfig | None = None
    kind: Literal["response.create"] = "response.create"


@dataclass(frozen=True, slots=True)
class ResponseCancel:
    response_id: str | None = None
    kind: Literal["response.cancel"] = "response.cancel"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of a tool call; ``is_error`` marks an error message the model should see."""

    call_id: str
    output: str
    name: str | None = None
    is_error: bool = False
    kind: Literal["tool.result"] = "tool.result"


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


@dataclass(frozen=True, slots=True)
class SessionCreated:
    session_id: str | None = None
    kind: Literal["session.created"] = "session.created"


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    session_id: str | None = None
    kind: Literal["session.updated"] = "session.updated"


@dataclass(frozen=True, slots=True)
class SessionError:
    """Something went wrong; the session keeps going unless ``fatal``."""

    code: str
    message: str
    event_id: str | None = None
    param: str | None = None
    fatal: bool = False
    kind: Literal["session.error"] = "session.error"


@dataclass(frozen=True, slots=True)
class ItemCreated:
    item: Item
    previous_item_id: str | None = None
    kind: Literal["item.created"] = "item.created"


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    item_id: str
    kind: Literal["item.deleted"] = "item.deleted"


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int
    content_index: int = 0
    kind: Literal["item.truncated"] = "item.truncated"


@dataclass(frozen=True, slots=True)
class AudioInputCommitted:
    item_id: str | None = None
    previous_item_id: str | None = None
    kind: Literal["audio.input.committed"] = "audio.input.committed"


@dataclass(frozen=True, slots=True)
class AudioInputCleared:
    kind: Literal["audio.input.cleared"] = "audio.input.cleared"


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str | None = None
    audio_start_ms: int | None = None
    kind: Literal["speech.started"] = "speech.started"


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str | None = None
    audio_end_ms: int | None = None
    kind: Literal["speech.stopped"] = "speech.stopped"


@dataclass(frozen=True, slots=True)
class AudioOutputDelta:
    """A chunk of the assistant's audio in the session's output format."""

    response_id: str | None
    item_id: str | None
    audio_b64: str = field(repr=False)
    content_index: int = 0
    kind: Literal["audio.output.delta"] = "audio.output.delta"

    @classmethod
    def from_bytes(
        cls, response_id: str | None, item_id: str | None, audio: bytes, content_index: int = 0
    ) -> AudioOutputDelta:
        return cls(response_id, item_id, base64.b64encode(audio).decode("ascii"), content_index)

    @property
    def audio(self) -> bytes:
        """The decoded audio; raises :class:`ProtocolError` if the base64 is invalid."""
        try:
            return base64.b64decode(self.audio_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"invalid base64 audio in audio.output.delta: {exc}") from None


@dataclass(frozen=True, slots=True)
class AudioOutputDone:
    response_id: str | None
    item_id: str | None
    kind: Literal["audio.output.done"] = "audio.output.done"


@dataclass(frozen=True, slots=True)
class TextOutputDelta:
    response_id: str | None
    item_id: str | None
    delta: str
    kind: Literal["text.output.delta"] = "text.output.delta"


@dataclass(frozen=True, slots=True)
class TextOutput:
    response_id: str | None
    item_id: str | None
    text: str
    kind: Literal["text.output"] = "text.output"


@dataclass(frozen=True, slots=True)
class TranscriptInputDelta:
    item_id: str | None
    delta: str
    kind: Literal["transcript.input.delta"] = "transcript.input.delta"


@dataclass(frozen=True, slots=True)
class TranscriptInput:
    item_id: str | None
    text: str
    kind: Literal["transcript.input"] = "transcript.input"


@dataclass(frozen=True, slots=True)
class TranscriptOutputDelta:
    response_id: str | None
    item_id: str | None
    delta: str
    kind: Literal["transcript.output.delta"] = "transcript.output.delta"


@dataclass(frozen=True, slots=True)
class TranscriptOutput:
    response_id: str | None
    item_id: str | None
    text: str
    kind: Literal["transcript.output"] = "transcript.output"


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str | None = None
    kind: Literal["response.created"] = "response.created"


@dataclass(frozen=True, slots=True)
class ResponseInterrupted:
    """The assistant was cut off; ``audio_end_ms`` is how much of ``item_id`` the user heard."""

    response_id: str | None = None
    item_id: str | None = None
    audio_end_ms: int | None = None
    kind: Literal["response.interrupted"] = "response.interrupted"


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


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response_id: str | None
    status: ResponseStatus = "completed"
    usage: Usage | None = None
    reason: str | None = None
    kind: Literal["response.done"] = "response.done"


@dataclass(frozen=True, slots=True)
class ToolStart:
    call_id: str
    name: str
    item_id: str | None = None
    response_id: str | None = None
    kind: Literal["tool.start"] = "tool.start"


@dataclass(frozen=True, slots=True)
class ToolDelta:
    call_id: str
    delta: str
    kind: Literal["tool.delta"] = "tool.delta"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool to run; ``arguments`` is the raw JSON text it produced."""

    call_id: str
    name: str
    arguments: str
    item_id: str | None = None
    response_id: str | None = None
    kind: Literal["tool.call"] = "tool.call"


@dataclass(frozen=True, slots=True)
class ToolCancelled:
    call_id: str
    kind: Literal["tool.cancelled"] = "tool.cancelled"


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
