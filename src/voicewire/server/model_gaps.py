"""What the server does with an OpenAI client event that its model cannot take.

A browser or an ``openai`` client speaks the whole GA protocol whatever model backs the server,
and models that are not OpenAI-shaped lack some of it (their capabilities say which: Gemini and
ElevenLabs have no truncate, no response create or cancel; ElevenLabs has no input commit or
clear). Refusing each such event with an error would answer every barge-in of a browser with one
(it truncates what it played, and may cancel). So the relay honours the event where its meaning
can be kept without the model, and otherwise refuses it with an ``error`` naming the model and
the event, and the session goes on:

================================ ==================================================================
client event, model lacks it     what the server does
================================ ==================================================================
``conversation.item.truncate``   cuts the session's history at ``audio_end_ms`` (what was heard)
                                 and answers ``conversation.item.truncated``, as OpenAI would. The
                                 model cut its own context when the user spoke over it.
``response.create``              accepted when a user turn (a typed item, committed speech) came
                                 since the last ``response.create``: the model answers each turn
                                 by itself, and that answer is the response the client sees.
                                 With a response under way and nothing new, OpenAI's
                                 ``conversation_already_has_active_response``. Refused otherwise
                                 (nothing to answer), and always with per-response settings,
                                 which it cannot take.
``response.cancel``              accepted when the response is already being stopped by the
                                 model: the user spoke over it (``speech_started``), it was
                                 interrupted, or the client added a user item since it started
                                 (the model stops for the new turn). The session stops playback
                                 and running tools at once; the model's own ``response.done``
                                 follows. Refused otherwise: the model would go on talking.
``input_audio_buffer.commit``    with the model's own turn detection on, accepted: the model
                                 commits the turn when the user stops (its
                                 ``input_audio_buffer.committed`` follows); with nothing
                                 appended since the last commit, OpenAI's
                                 ``input_audio_buffer_commit_empty``. Refused when turns are
                                 manual.
``input_audio_buffer.clear``     nothing appended since the last commit: answered
                                 ``input_audio_buffer.cleared`` (there is nothing to clear).
                                 Refused otherwise: the model has already heard that audio.
``conversation.item.delete``     refused: the model keeps its own context.
================================ ==================================================================

The other way round, a model may only say it stopped its answer for the user, with no
``speech.started`` (Gemini's ``interrupted``). An OpenAI client (a browser) stops its playback
and truncates on ``input_audio_buffer.speech_started``, so the relay tells it one when the model
interrupted itself without reporting speech (:meth:`ModelGaps.observe`), at the input audio
position the client had reached; never a second one where the model's own follows.

A refusal is an ``error`` of type ``invalid_request_error`` and code ``unsupported_event`` (the
code :class:`~voicewire.protocol.UnsupportedEventError` carries), quoting the client's
``event_id``; its message names the provider, the model and the GA event.
"""

from __future__ import annotations

from dataclasses import astuple
from typing import Final

from voicewire.openai_wire.fields import shown
from voicewire.openai_wire.server_encoder import Message, ServerEventEncoder
from voicewire.protocol import (
    AudioInputClear,
    AudioInputCleared,
    AudioInputCommit,
    AudioInputCommitted,
    ClientEvent,
    ItemCreate,
    ItemTruncate,
    ItemTruncated,
    MessageItem,
    RealtimeError,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseInterrupted,
    SpeechStarted,
    UnsupportedEventError,
)
from voicewire.session import RealtimeSession, SessionEvent

__all__ = ["WIRE_NAMES", "ModelGaps", "no_such_item"]

WIRE_NAMES: Final[dict[str, str]] = {
    "item.truncate": "conversation.item.truncate",
    "item.delete": "conversation.item.delete",
    "response.create": "response.create",
    "response.cancel": "response.cancel",
    "audio.input.commit": "input_audio_buffer.commit",
    "audio.input.clear": "input_audio_buffer.clear",
}
"""The GA client event each neutral kind the server may have to refuse comes from."""

_CANNOT: Final[dict[str, str]] = {
    "item.truncate": "cannot truncate items",
    "item.delete": "cannot delete items from its conversation (it keeps its own context)",
    "response.create": "cannot be asked for a response (it answers each user turn by itself)",
    "response.cancel": (
        "cannot cancel a response (it stops when the user speaks over it or sends a message)"
    ),
    "audio.input.commit": "cannot commit input audio (it detects the end of a turn itself)",
    "audio.input.clear": "cannot clear input audio it has already heard",
}

_WATCHED: Final = (
    ResponseCreated,
    SpeechStarted,
    ResponseInterrupted,
    AudioInputCommitted,
    AudioInputCleared,
)
"""The session events :meth:`ModelGaps.observe` reads (it returns at once for the others)."""


class ModelGaps:
    """Stands in for the client events ``session``'s model cannot take (see the module
    docstring). The relay asks :meth:`lacks` before forwarding an event, passes it to
    :meth:`apply` if so, and shows it the session's events (:meth:`observe`) and the client's
    (:meth:`client_sent`, and :attr:`input_bytes` for audio)."""

    def __init__(self, session: RealtimeSession, encoder: ServerEventEncoder) -> None:
        self.session = session
        self.encoder = encoder
        capabilities = session.capabilities
        self.missing: frozenset[str] = capabilities.unsupported_client_events()
        """The neutral client event kinds the model cannot take."""
        self._own_turns = capabilities.server_vad
        self._turn_unclaimed = False  # a user turn no response.create has claimed yet
        self._stopping = False  # the current response is being stopped by the model
        self.input_bytes = 0
        """Input audio the client has appended (the relay adds each append's bytes: the
        commonest frame costs no call here)."""
        self._committed_bytes = 0  # input_bytes at the last commit or clear
        self._speech_told = False  # speech_started sent since the current response began

    def lacks(self, event: ClientEvent) -> bool:
        """Whether the model cannot take ``event`` (then :meth:`apply` it instead)."""
        return event.kind in self.missing

    def refusal(self, event: ClientEvent) -> UnsupportedEventError:
        """The error for ``event``: it names the provider, the model and the GA event."""
        model = self.session.model
        wire = WIRE_NAMES.get(event.kind, event.kind)
        why = _CANNOT.get(event.kind, "cannot take it")
        return UnsupportedEventError(
            f"{wire} was not applied: the {model.provider} model {model.model_id!r} {why}; "
            "the session goes on"
        )

    # -- what the relay sees ---------------------------------------------------------------------

    @property
    def _uncommitted(self) -> bool:
        """Audio was appended since the last commit or clear."""
        return self.input_bytes != self._committed_bytes

    def client_sent(self, event: ClientEvent) -> None:
        """A client event the model takes, other than an audio append, went to the session."""
        if isinstance(event, ItemCreate) and _is_user_message(event):
            self._turn_unclaimed = True
            self._stopping = True  # the model stops what it says for the new turn

    def observe(self, event: SessionEvent, *, by_client: bool) -> SpeechStarted | None:
        """A session event (cheap for those it does not watch); ``by_client``: it comes of a
        client event being applied. Returns the ``speech.started`` to tell the client first
        when the model stopped its answer because the user spoke but reported no speech (Gemini
        only says it was interrupted): an OpenAI client stops its playback
        and truncates on ``input_audio_buffer.speech_started``, and would otherwise play the
        rest of what it had buffered."""
        if not isinstance(event, _WATCHED):
            return None
        if isinstance(event, ResponseCreated):
            self._stopping = self._speech_told = False
        elif isinstance(event, SpeechStarted):
            self._stopping = self._speech_told = True
        elif isinstance(event, ResponseInterrupted):
            self._stopping = True
            if not (by_client or self._speech_told):
                self._speech_told = True
                rate = self.session.input_format.bytes_per_second
                return SpeechStarted(None, self.input_bytes * 1000 // rate if rate else None)
        elif isinstance(event, AudioInputCommitted):
            # A spoken turn (a typed one counts when the client adds it: the model's echo of
            # that item comes later and must not make it unclaimed again).
            self._turn_unclaimed = True
            self._committed_bytes = self.input_bytes
        else:  # AudioInputCleared
            self._committed_bytes = self.input_bytes
        return None

    # -- standing in -----------------------------------------------------------------------------

    def apply(self, event: ClientEvent) -> list[Message]:
        """Honour ``event`` without the model (the replies the relay owes), or raise its
        refusal. Item ids have been checked by the relay."""
        if isinstance(event, ItemTruncate):
            # The session already took the client's playback position (report_playback).
            session = self.session
            arrived = session.playback.received_ms(event.item_id)
            session.history.truncate(event.item_id, event.audio_end_ms, arrived)
            return self.encoder.encode(
                ItemTruncated(event.item_id, event.audio_end_ms, event.content_index)
            )
        if isinstance(event, ResponseCreate) and self._may_create(event):
            self._turn_unclaimed = False
            return []
        if isinstance(event, ResponseCancel) and self._stopping:
            self.session.interrupt()  # playback, history and tools now; the model's done follows
            return []
        if isinstance(event, AudioInputCommit) and self._own_turns and not self._manual():
            if not self._uncommitted:
                raise RealtimeError(
                    "Error committing input audio buffer: the buffer is empty (no audio was "
                    "appended since the last commit).",
                    code="input_audio_buffer_commit_empty",
                )
            return []
        if isinstance(event, AudioInputClear) and not self._uncommitted:
            return self.encoder.encode(AudioInputCleared())
        raise self.refusal(event)  # item.delete, and the cases above that cannot be honoured

    def _may_create(self, event: ResponseCreate) -> bool:
        """Whether the model's own answer is the response asked for (raises OpenAI's error when
        one is under way and nothing new is to be answered, as OpenAI would)."""
        if event.config is not None and any(v is not None for v in astuple(event.config)):
            return False  # per-response settings: the model's own answer cannot honour them
        current = self.encoder.current_response_id
        if current is not None and not self._turn_unclaimed:
            raise RealtimeError(
                f"Conversation already has an active response in progress: {current}. Wait "
                "until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        return self._turn_unclaimed

    def _manual(self) -> bool:
        turn = self.session.config.turn_detection
        return turn is not None and turn.mode == "manual"


def _is_user_message(event: ItemCreate) -> bool:
    return isinstance(event.item, MessageItem) and event.item.role == "user"


def no_such_item(doing: str, code: str, item_id: str) -> RealtimeError:
    """OpenAI's error for an item id it does not know (``Error retrieving item: ...``)."""
    return RealtimeError(
        f"Error {doing} item: the item with id {shown(item_id)} does not exist.", code=code
    )
