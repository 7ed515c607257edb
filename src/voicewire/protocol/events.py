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

Words used in the field descriptions:

* *item*: one entry of the conversation (:mod:`voicewire.protocol.items`), named by its id. A
  user's spoken turn, an assistant's answer, a tool call and its result are each one item.
* *response*: one turn of the model, from ``response.created`` to ``response.done``; it adds one
  or more items (an answer, tool calls).
* *input audio*: what the user's side appends with ``audio.input.append``, in the session's
  input format. Offsets into it (``audio_start_ms`` and ``audio_end_ms`` of
  ``speech.started`` / ``speech.stopped``) count milliseconds of input audio the model has
  received since the connection opened; they restart at 0 on a new connection (a reconnect).
* *item audio*: the audio of one assistant item, in the session's output format. Offsets into
  it (``audio_end_ms`` of ``item.truncate``, ``item.truncated``, ``response.interrupted``) count
  milliseconds from the item's first audio frame.
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
    """Change the session's configuration while connected (instructions, tools, voice, ...).

    The model confirms with ``session.updated``. Fields left ``None`` in ``config`` keep the
    provider's current value.
    """

    config: SessionConfig
    """The configuration to apply; the codec sends all of it, not only what changed."""
    kind: ClassVar[Literal["session.update"]] = "session.update"


@dataclass(frozen=True, slots=True)
class ItemCreate:
    """Add an item to the model's conversation: a typed user message, a replayed turn after a
    reconnect, a tool call and its result. The model answers with ``item.created``."""

    item: Item
    """The item to add. Its ``id`` names it for later events; ``None`` lets the model name it."""
    previous_item_id: str | None = None
    """The id of the item to insert it after; ``None`` appends it at the end."""
    kind: ClassVar[Literal["item.create"]] = "item.create"


@dataclass(frozen=True, slots=True)
class ItemDelete:
    """Remove an item from the model's conversation; it answers with ``item.deleted``."""

    item_id: str
    """The id of the item to remove."""
    kind: ClassVar[Literal["item.delete"]] = "item.delete"


@dataclass(frozen=True, slots=True)
class ItemTruncate:
    """Cut an assistant item's audio (and its transcript) at what the listener heard.

    Sent by the session on a barge-in, so that the model's memory of what it said matches what
    the user actually heard. The model answers with ``item.truncated``.
    """

    item_id: str
    """The id of the assistant message whose audio is cut."""
    audio_end_ms: int
    """Milliseconds of the item's audio to keep, counted from its first frame: the point the
    listener had heard when they interrupted (never past the audio the model sent)."""
    content_index: int = 0
    """Which content part of the item holds the audio (0: the first, and usually only, part)."""
    kind: ClassVar[Literal["item.truncate"]] = "item.truncate"


@dataclass(frozen=True, slots=True)
class AudioInputAppend:
    """Stream a chunk of the user's audio to the model's input audio buffer."""

    audio: bytes
    """Raw audio in the session's input format (not base64): PCM16 little-endian or G.711."""
    kind: ClassVar[Literal["audio.input.append"]] = "audio.input.append"


@dataclass(frozen=True, slots=True)
class AudioInputCommit:
    """End the user's turn by hand: the audio appended since the last commit becomes one user
    item (answered by ``audio.input.committed``). Needed with manual turn detection only; with
    voice activity detection the model commits by itself."""

    kind: ClassVar[Literal["audio.input.commit"]] = "audio.input.commit"


@dataclass(frozen=True, slots=True)
class AudioInputClear:
    """Drop the audio appended since the last commit (answered by ``audio.input.cleared``)."""

    kind: ClassVar[Literal["audio.input.clear"]] = "audio.input.clear"


@dataclass(frozen=True, slots=True)
class ActivityStart:
    """Manual turn detection: the user started speaking (Gemini ``activityStart``).

    Models that take activity signals open a user turn here and treat the audio that follows as
    its speech; the OpenAI wire has no such message.
    """

    kind: ClassVar[Literal["activity.start"]] = "activity.start"


@dataclass(frozen=True, slots=True)
class ActivityEnd:
    """Manual turn detection: the user stopped speaking; the turn opened by ``activity.start``
    is complete (and answered, when the turn detection says ``create_response``)."""

    kind: ClassVar[Literal["activity.end"]] = "activity.end"


@dataclass(frozen=True, slots=True)
class ResponseCreate:
    """Ask the model to respond now: after a typed message, after tool results, or at the end
    of a manual turn. The model answers with ``response.created``."""

    config: ResponseConfig | None = None
    """Overrides for this response only; ``None`` uses the session's configuration."""
    kind: ClassVar[Literal["response.create"]] = "response.create"


@dataclass(frozen=True, slots=True)
class ResponseCancel:
    """Stop a response in progress; it ends with ``response.done`` of status ``cancelled``."""

    response_id: str | None = None
    """The response to stop; ``None`` stops whichever response is in progress."""
    kind: ClassVar[Literal["response.cancel"]] = "response.cancel"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of a tool call; ``is_error`` marks an error message the model should see."""

    call_id: str
    """The ``call_id`` of the ``tool.call`` this answers."""
    output: str
    """What the tool returned, as the text the model reads (usually JSON), or the error text."""
    name: str | None = None
    """The tool's name; needed by providers that match results by name, ignored by the others."""
    is_error: bool = False
    """The tool failed (or is unknown, or timed out) and ``output`` says why; wires without an
    error flag send ``output`` alone."""
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
    """The model opened the session: the first event of every connection."""

    session_id: str | None = None
    """The provider's id of this session (xAI: its conversation id), or ``None`` if it gives
    none. It is new on every connection, a reconnect included."""
    kind: ClassVar[Literal["session.created"]] = "session.created"


@dataclass(slots=True)
class SessionUpdated:
    """The model applied a ``session.update`` (or the configuration sent on connect)."""

    session_id: str | None = None
    """The provider's id of the session, when the message carries one."""
    kind: ClassVar[Literal["session.updated"]] = "session.updated"


@dataclass(slots=True)
class SessionError:
    """Something went wrong; the session keeps going unless ``fatal``."""

    code: str
    """A short machine-readable tag: the provider's error code (or type), or one of voicewire's
    own, such as ``connection_lost``, ``tool_error``, ``internal_error``."""
    message: str
    """A human-readable explanation, as the provider or voicewire worded it."""
    event_id: str | None = None
    """The id of the client event that caused the error, when the provider names it."""
    param: str | None = None
    """The parameter at fault (e.g. ``audio_end_ms``), when the provider names one."""
    fatal: bool = False
    """The link to the model is gone (code ``connection_lost``). A connection reports it when
    its socket closes; a session only once it has given up reconnecting."""
    kind: ClassVar[Literal["session.error"]] = "session.error"


@dataclass(slots=True)
class ItemCreated:
    """An item was added to the model's conversation: one the client created, the user's
    committed speech, or the start of an assistant answer or tool call (which may still be in
    progress; later events fill it in)."""

    item: Item
    """The item as the model holds it now, under the id later events use."""
    previous_item_id: str | None = None
    """The id of the item it follows in the conversation; ``None`` when it is first or the
    model does not say."""
    kind: ClassVar[Literal["item.created"]] = "item.created"


@dataclass(slots=True)
class ItemDeleted:
    """An item was removed from the model's conversation."""

    item_id: str
    """The id of the removed item."""
    kind: ClassVar[Literal["item.deleted"]] = "item.deleted"


@dataclass(slots=True)
class ItemTruncated:
    """The model cut an assistant item's audio, as asked by ``item.truncate``."""

    item_id: str
    """The id of the assistant message that was cut."""
    audio_end_ms: int
    """Milliseconds of the item's audio the model kept, counted from its first frame. What
    was said past it is forgotten: OpenAI drops the item's transcript, the local model keeps
    the words spoken before that point."""
    content_index: int = 0
    """Which content part of the item was cut (0: the first)."""
    kind: ClassVar[Literal["item.truncated"]] = "item.truncated"


@dataclass(slots=True)
class AudioInputCommitted:
    """The input audio buffer was committed (by voice activity detection or by
    ``audio.input.commit``): its audio became a user item, announced by ``item.created``."""

    item_id: str | None = None
    """The id of the user item made from the committed audio (the id ``speech.started`` gave)."""
    previous_item_id: str | None = None
    """The id of the item the new one follows; ``None`` when it is first."""
    kind: ClassVar[Literal["audio.input.committed"]] = "audio.input.committed"


@dataclass(slots=True)
class AudioInputCleared:
    """The input audio buffer was emptied, as asked by ``audio.input.clear``."""

    kind: ClassVar[Literal["audio.input.cleared"]] = "audio.input.cleared"


@dataclass(slots=True)
class SpeechStarted:
    """The model's voice activity detection heard the user start speaking (or a manual turn
    began with ``activity.start``). When the turn detection's ``interrupt_response`` is on, the
    session takes it as a barge-in: the assistant's audio stops and is truncated where the
    listener was."""

    item_id: str | None = None
    """The id the user item will have once this speech is committed."""
    audio_start_ms: int | None = None
    """Where the speech starts in the input audio: milliseconds of input audio the model has
    received since the connection opened. OpenAI and the scripted model move it back by the
    turn detection's ``prefix_padding_ms`` (the start of the audio the item will hold); the
    local model gives the first voiced frame; ``None`` if the provider does not say. A provider
    that gives it promises to report every speech start as it hears it: once one has come, the
    session's ledger (:mod:`voicewire.session.unacked`) drops delivered audio with no speech
    started in it as silence. A start that is only inferred (after an interruption, say) has
    ``None``."""
    kind: ClassVar[Literal["speech.started"]] = "speech.started"


@dataclass(slots=True)
class SpeechStopped:
    """The model's voice activity detection found the end of the user's turn; a commit
    (``audio.input.committed``) follows."""

    item_id: str | None = None
    """The id of the user item being committed (as in ``speech.started``)."""
    audio_end_ms: int | None = None
    """Where the speech ends in the input audio, counted as ``audio_start_ms`` is. OpenAI and
    the scripted model include the silence that ended the turn (``silence_duration_ms``); the
    local model gives the end of the last voiced frame; ``None`` if the provider does not say."""
    kind: ClassVar[Literal["speech.stopped"]] = "speech.stopped"


@dataclass(slots=True)
class AudioOutputDelta:
    """A chunk of the assistant's audio in the session's output format."""

    response_id: str | None
    """The response speaking."""
    item_id: str | None
    """The assistant message the audio belongs to; playback and truncation count per item."""
    audio_b64: str = field(repr=False)
    """The audio as base64 text, as the wire carried it; :attr:`audio` decodes it."""
    content_index: int = 0
    """Which content part of the item the audio belongs to (0: the first)."""
    _audio: bytes | None = field(default=None, init=False, repr=False, compare=False)
    """The bytes :meth:`from_bytes` was given, so :attr:`audio` need not decode. Not an init
    field: ``dataclasses.replace()`` makes an event that decodes ``audio_b64`` afresh."""
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
    """All of an assistant item's audio has been sent (the listener may still be hearing it)."""

    response_id: str | None
    """The response that spoke."""
    item_id: str | None
    """The assistant message whose audio is complete."""
    kind: ClassVar[Literal["audio.output.done"]] = "audio.output.done"


@dataclass(slots=True)
class TextOutputDelta:
    """A piece of the assistant's written answer (text output modality)."""

    response_id: str | None
    """The response writing."""
    item_id: str | None
    """The assistant message the text belongs to."""
    delta: str
    """The text added since the previous delta of this item."""
    kind: ClassVar[Literal["text.output.delta"]] = "text.output.delta"


@dataclass(slots=True)
class TextOutput:
    """The assistant's written answer is complete."""

    response_id: str | None
    """The response that wrote it."""
    item_id: str | None
    """The assistant message it belongs to."""
    text: str
    """The whole text: every delta of the item, joined."""
    kind: ClassVar[Literal["text.output"]] = "text.output"


@dataclass(slots=True)
class TranscriptInputDelta:
    """A piece of the transcript of what the user said (needs input transcription)."""

    item_id: str | None
    """The user item being transcribed."""
    delta: str
    """The words added since the previous delta of this item."""
    kind: ClassVar[Literal["transcript.input.delta"]] = "transcript.input.delta"


@dataclass(slots=True)
class TranscriptInput:
    """The transcript of a user item is complete."""

    item_id: str | None
    """The user item transcribed."""
    text: str
    """The whole transcript (it supersedes the deltas, which may have been partial)."""
    kind: ClassVar[Literal["transcript.input"]] = "transcript.input"


@dataclass(slots=True)
class TranscriptOutputDelta:
    """A piece of the transcript of what the assistant is saying."""

    response_id: str | None
    """The response speaking."""
    item_id: str | None
    """The assistant message being spoken."""
    delta: str
    """The words added since the previous delta of this item. Transcripts may run ahead of
    the audio: these are words the model produced, not words the listener has heard."""
    kind: ClassVar[Literal["transcript.output.delta"]] = "transcript.output.delta"


@dataclass(slots=True)
class TranscriptOutput:
    """The transcript of an assistant message is complete."""

    response_id: str | None
    """The response that spoke."""
    item_id: str | None
    """The assistant message transcribed."""
    text: str
    """Everything the model said in the item (before any truncation)."""
    kind: ClassVar[Literal["transcript.output"]] = "transcript.output"


@dataclass(slots=True)
class ResponseCreated:
    """The model started a response (on its own after a turn, or asked by
    ``response.create``)."""

    response_id: str | None = None
    """The id later events of this response carry."""
    kind: ClassVar[Literal["response.created"]] = "response.created"


@dataclass(slots=True)
class ResponseInterrupted:
    """The assistant was cut off; ``audio_end_ms`` is how much of ``item_id`` the user heard.

    A session emits one per interruption (a barge-in or ``interrupt()``), after stopping the
    channel's playback and truncating the item. Models that report interruptions themselves
    (the local model) emit it too; the session takes it as a barge-in and does not pass the
    model's own copy on.
    """

    response_id: str | None = None
    """The response that was speaking, if one was."""
    item_id: str | None = None
    """The assistant message that was cut; ``None`` when there was nothing to cut (no audio of
    the response had arrived yet)."""
    audio_end_ms: int | None = None
    """Milliseconds of the item's audio, from its first frame, that the listener heard (from a
    session) or that the model had sent (from a model); ``None`` when ``item_id`` is."""
    kind: ClassVar[Literal["response.interrupted"]] = "response.interrupted"


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a response used, as the provider counts them (0 where it gives no count).

    The local model counts its language model's text tokens only.
    """

    input_tokens: int = 0
    """All tokens the model read for this response: the conversation so far, in text and
    audio tokens."""
    output_tokens: int = 0
    """All tokens the model produced for this response."""
    total_tokens: int = 0
    """``input_tokens + output_tokens``."""
    input_audio_tokens: int = 0
    """The part of ``input_tokens`` that was audio."""
    input_text_tokens: int = 0
    """The part of ``input_tokens`` that was text."""
    input_cached_tokens: int = 0
    """The part of ``input_tokens`` served from the provider's prompt cache (usually cheaper)."""
    output_audio_tokens: int = 0
    """The part of ``output_tokens`` that was audio."""
    output_text_tokens: int = 0
    """The part of ``output_tokens`` that was text."""


ResponseStatus = Literal["completed", "cancelled", "failed", "incomplete", "in_progress"]
"""How a response ended: ``completed`` (said all it meant to), ``cancelled`` (cut off by a
barge-in or ``response.cancel``), ``failed`` (an error, reported as ``session.error`` first),
``incomplete`` (stopped early, e.g. by ``max_output_tokens``); ``in_progress`` only from
providers that report a response before its end."""


@dataclass(slots=True)
class ResponseDone:
    """A response ended: every item it added is complete."""

    response_id: str | None
    """The response that ended."""
    status: ResponseStatus = "completed"
    """How it ended."""
    usage: Usage | None = None
    """Tokens it used; ``None`` when the provider reports none."""
    reason: str | None = None
    """Why it was not completed, in the provider's words (e.g. ``turn_detected`` after a
    barge-in, ``client_cancelled``, ``max_output_tokens``), or ``None``."""
    kind: ClassVar[Literal["response.done"]] = "response.done"


@dataclass(slots=True)
class ToolStart:
    """The model began a tool call; its arguments stream as ``tool.delta``, and ``tool.call``
    follows when they are complete. Informational: tools run on ``tool.call``."""

    call_id: str
    """The call's id, the same in every event of this call and in its ``tool.result``."""
    name: str
    """The name of the tool called."""
    item_id: str | None = None
    """The tool call item in the conversation."""
    response_id: str | None = None
    """The response making the call."""
    kind: ClassVar[Literal["tool.start"]] = "tool.start"


@dataclass(slots=True)
class ToolDelta:
    """A piece of a tool call's arguments as the model writes them."""

    call_id: str
    """The call the arguments belong to."""
    delta: str
    """JSON text added since the previous delta (not valid JSON on its own)."""
    kind: ClassVar[Literal["tool.delta"]] = "tool.delta"


@dataclass(slots=True)
class ToolCall:
    """The model asks for a tool to run; ``arguments`` is the raw JSON text it produced."""

    call_id: str
    """The call's id; the result goes back as ``tool.result`` with the same id."""
    name: str
    """The name of the tool to run."""
    arguments: str
    """The arguments as JSON text, unparsed and unchecked: it may not match the tool's schema."""
    item_id: str | None = None
    """The tool call item in the conversation."""
    response_id: str | None = None
    """The response making the call; the session asks for the next response once every call
    of this one is answered."""
    kind: ClassVar[Literal["tool.call"]] = "tool.call"


@dataclass(slots=True)
class ToolCancelled:
    """A tool call was abandoned: the session cancelled its running tool (the user interrupted
    or the session closed), or a model that can withdraw calls withdrew it."""

    call_id: str
    """The call abandoned."""
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
"""Every client event class, in the order of :data:`ClientEvent`."""
SERVER_EVENT_TYPES: tuple[type[ServerEvent], ...] = ServerEvent.__args__
"""Every server event class, in the order of :data:`ServerEvent`."""
