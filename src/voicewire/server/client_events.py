"""What the server does with each decoded client event: apply it to the session, stand in for
the model, or refuse it as OpenAI would.

Kept apart from :mod:`.relay`, which moves frames (the socket, the outbox, backpressure): this is
the meaning of each event. :class:`ClientEvents` is a mixin of :class:`~.relay.Relay`, not an
object it calls, so an audio append costs the reader no call beyond ``_apply`` itself (the relay
calls it once per frame).

**Every GA client event** (the ``openai`` package's ``RealtimeClientEvent`` union) is answered
as OpenAI answers it, or refused with OpenAI's error (``invalid_request_error``, quoting the
client's ``event_id``; errors the model raises come through the session as the model words them):

============================== =============================== =====================================
client event                   what the server does            answer (refusal code)
============================== =============================== =====================================
``session.update``             applies what clients may set;   ``session.updated``
                               ignores the client's tools
``conversation.item.create``   adds the item (session)         ``conversation.item.added``,
                                                               ``conversation.item.done``
``conversation.item.retrieve`` reads the session's history;    ``conversation.item.retrieved``
                               the model is not asked          (``item_retrieve_invalid_item_id``)
``conversation.item.truncate`` reports the playback position,  ``conversation.item.truncated``
                               forwards                        (``item_truncate_invalid_item_id``)
``conversation.item.delete``   forwards                        ``conversation.item.deleted``
                                                               (``item_delete_invalid_item_id``)
``input_audio_buffer.append``  sends the audio (session)       VAD events as speech comes
``input_audio_buffer.commit``  forwards (no automatic reply)   ``input_audio_buffer.committed``
                                                               (``input_audio_buffer_commit_empty``)
``input_audio_buffer.clear``   forwards                        ``input_audio_buffer.cleared``
``output_audio_buffer.clear``  refuses: WebRTC and SIP only    (``invalid_value``)
``response.create``            forwards, per-response settings ``response.created`` ... ``.done``
                               too; out-of-band is refused     (``unsupported_parameter``,
                                                               ``conversation_already_has_``
                                                               ``active_response``)
``response.cancel``            interrupts the session: the     ``response.done`` ``cancelled``
                               response and running tools;     (``response_cancel_not_active``)
                               forwards if not started yet
============================== =============================== =====================================

Where the model cannot take an event (its capabilities say so: Gemini, ElevenLabs and xAI
lack some), the relay stands in for it when the meaning can be kept without the model (a
truncate cuts the session's history and is answered ``conversation.item.truncated``) and
otherwise refuses it with an ``unsupported_event`` error naming the model: see
:mod:`.model_gaps`.

Item ids the client was never shown (unknown, deleted, or the server's tool calls and outputs)
are refused as unknown; tests/server/test_app_client_events.py sends each event of the union.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from voicewire.openai_wire.server_decoder import ItemRetrieve, WireEvent
from voicewire.openai_wire.server_encoder import Message
from voicewire.protocol import (
    AudioInputAppend,
    ClientEvent,
    ConfigurationError,
    ItemCreate,
    ItemDelete,
    ItemTruncate,
    RealtimeError,
    ResponseCancel,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    SessionUpdated,
)

from .client_session import client_changes, client_view
from .model_gaps import no_such_item

if TYPE_CHECKING:
    from voicewire.openai_wire.server_encoder import ServerEventEncoder
    from voicewire.session import RealtimeSession

    from .model_gaps import ModelGaps

__all__ = ["ClientEvents"]

_NO_REPLIES: Final[Sequence[Message]] = ()


class ClientEvents:
    """The client-event half of :class:`~.relay.Relay`, which sets these attributes."""

    session: RealtimeSession
    encoder: ServerEventEncoder
    client_fields: frozenset[str]
    label: str
    restored_ids: frozenset[str]
    _gaps: ModelGaps
    _client_instructions: str | None
    _create_mark: int | None

    def _apply(self, event: WireEvent) -> Sequence[Message]:
        """Apply one decoded client event; the replies the relay itself owes (the model's come
        through the session). Raises :class:`RealtimeError` with OpenAI's code when OpenAI
        would refuse the event (see the table in the module docstring), and stands in for the
        model where it cannot take the event (:mod:`.model_gaps`)."""
        if type(event) is AudioInputAppend:  # the hot path: no call but the session's
            audio = event.audio
            self.session.send_audio(audio)
            self._gaps.input_bytes += len(audio)
            return _NO_REPLIES
        session, gaps = self.session, self._gaps
        if isinstance(event, SessionUpdate):
            return self._update(event.config)
        elif isinstance(event, ItemCreate):
            if event.item.id in self.restored_ids:
                return []  # a resuming client's replay of an item the server restored
            session.add_item(event.item, event.previous_item_id)
            gaps.client_sent(event)
        elif isinstance(event, ResponseCancel):
            return self._cancel(event)
        elif isinstance(event, ItemRetrieve):
            retrieved = self.encoder.retrieved(event.item_id, session.history.get(event.item_id))
            if retrieved is None:
                raise no_such_item("retrieving", "item_retrieve_invalid_item_id", event.item_id)
            return [retrieved]
        elif isinstance(event, ItemTruncate):
            self._check_item("truncating", "item_truncate_invalid_item_id", event.item_id)
            session.report_playback(event.item_id, event.audio_end_ms)
            return self._forward(event)
        elif isinstance(event, ItemDelete):
            self._check_item("deleting", "item_delete_invalid_item_id", event.item_id)
            return self._forward(event)
        else:
            if isinstance(event, ResponseCreate) and not gaps.lacks(event):
                self._create_mark = self.encoder.responses_started
            return self._forward(event)
        return []

    def _cancel(self, event: ResponseCancel) -> list[Message]:
        """``response.cancel`` for ``response_id`` (``None``: the current one): the model's
        current response, or one a ``response.create`` asked for that has not started yet;
        otherwise OpenAI's error."""
        current, gaps = self.encoder.current_response_id, self._gaps
        if current is not None and event.response_id in (None, current):
            if gaps.lacks(event):
                return gaps.apply(event)
            # Also cancels the agent's running tools, which a plain cancel would leave running.
            self.session.interrupt()
        elif current is None and event.response_id is None and self._create_pending():
            return self._forward(ResponseCancel())  # after the create, in the model's order
        else:
            raise RealtimeError(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        return []

    def _create_pending(self) -> bool:
        """A ``response.create`` went to the model and no response has started since."""
        return self._create_mark == self.encoder.responses_started

    def _check_item(self, doing: str, code: str, item_id: str) -> None:
        """Refuse, as OpenAI does, an item the client was never shown."""
        if not self.encoder.shows(item_id, self.session.history.get(item_id)):
            raise no_such_item(doing, code, item_id)

    def _forward(self, event: ClientEvent) -> list[Message]:
        """Send a client event to the model as is (delete, truncate, a commit without the
        session's automatic response.create, response.create with per-response settings), or,
        when the model cannot take it, stand in for it (:mod:`.model_gaps`)."""
        if self._gaps.lacks(event):
            return self._gaps.apply(event)
        self.session.send(event)
        return []

    def _update(self, config: SessionConfig) -> list[Message]:
        changes = client_changes(config, self.session, self.client_fields, self.label)
        if changes:
            try:
                self.session.update(**changes)
            except ConfigurationError as exc:  # a field the model cannot change live
                reason = exc.message.removeprefix("update(): ")
                raise ConfigurationError(f"session.update was not applied: {reason}") from None
            if "instructions" in changes:
                self._client_instructions = changes["instructions"]
        self.encoder.config = self._shown()
        return self.encoder.encode(SessionUpdated(self.session.session_id))

    def client_config(self) -> SessionConfig:
        """The session config as the client is shown it."""
        return self._client_view()

    def _client_view(self) -> SessionConfig:
        return client_view(self.session.config, self._client_instructions)

    def _shown(self) -> SessionConfig:
        """The client's view as its session events show it: the turn detection in effect (the
        model's default when none was chosen; the stored view keeps ``None``)."""
        return replace(self._client_view(), turn_detection=self.session.turn_detection)
