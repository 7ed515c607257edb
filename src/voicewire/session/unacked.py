"""What was sent on the current link and not yet acknowledged by the model, to send again after a
reconnect.

A link can die without a word (see :mod:`voicewire.providers.keepalive`): what the
session sent in the seconds before the drop was noticed went into a socket buffer and nowhere
else. :class:`Unacknowledged` keeps each client event from when it is sent until the model's
answer shows it arrived, and hands back, after the reconnect, those that never were — once each,
and none that the history replay already carries.

What acknowledges what:

* ``item.create`` — ``item.created`` with the same item id (the session names every item it sends,
  see :func:`with_item_id`, so the answer can be matched);
* ``tool.result`` — ``item.created`` of the result item with the same ``call_id``;
* ``item.delete`` — ``item.deleted`` with the same id;
* ``response.create`` — ``response.created`` (in order);
* ``audio.input.append`` — the model's words for it. Audio goes through two stages:

  1. *In the model's input buffer* until a commit or a clear uses the buffer. Which audio a commit
     took: a voice-detection commit follows ``speech.stopped``, whose ``audio_end_ms`` counts the
     milliseconds of input audio the model has received since the link opened; the ledger counts
     the same from what it sent, so the commit took the appends that end at or before that
     position, and audio sent after it stays in the (next) buffer. A commit with no
     ``speech.stopped`` before it answers the oldest ``audio.input.commit`` and took the audio
     sent before that commit. (A voice-detection commit without a position takes the whole
     buffer, as there is nothing better to go by.) A clear drops the audio before the
     ``audio.input.clear`` it answers.
  2. *Committed, not yet transcribed*: the committed audio (and the client's commit, if one made
     the turn) is kept under the user item's id until the model has the turn's words
     (``transcript.input`` for the item), the item is deleted, or a response that began after
     the commit has answered (it said something complete, or ended): then the history holds
     what the model made of the turn. If the link dies before that, the history item has no
     words, so the replay (:func:`~voicewire.session.reconnect.replay_events`) leaves it out,
     and the ledger sends the turn's audio again instead (with its commit when the client made
     it; voice detection commits it again by itself). The model hears the turn once: from the
     replay when its words are known, from the audio otherwise. The history keeps the old,
     wordless item; the new link's commit adds the turn under a new id.

  Audio is kept up to a byte bound, the oldest dropped first (:data:`UNACKED_AUDIO_S`); under
  voice detection, silence the model has and has heard as silence goes earlier (see "Memory").

Not kept:

* ``session.update``: the new link opens with the session's current configuration (the session
  passes it to ``connect``), so sending an unacknowledged update again could only roll the
  configuration back to an older one;
* ``response.cancel``: it drops the ``response.create`` events not yet acknowledged (the user
  does not want that response on the new link either) and marks the open response as not to be
  asked again;
* ``item.truncate`` (the history replay carries what was heard); it too marks the open response
  as interrupted;
* ``activity.start`` / ``activity.end`` (a turn the new link did not see begin cannot end there).

A response cut by the drop. A response the model had started (``response.created``) and had not
finished when the link died is asked for again on the new link, once (a ``response.create`` with
its per-response settings, placed where it began among what is sent again), unless the user
cancelled or interrupted it (``response.cancel``, ``item.truncate``, ``speech.started``,
``response.interrupted``), a newer ``response.create`` supersedes it (sent, queued, or sent again),
the turn it answered is sent again as audio to a model that answers voice turns by itself, or it
already said something complete (``text.output``, ``transcript.output``, ``tool.call``: the
history replay carries that, and asking again would say it twice). The listener was told it
``failed``; without asking again, a question asked just before a drop would go unanswered.

A response the model starts by itself (server voice detection) also answers ``response.created``,
so it can acknowledge a ``response.create`` sent at the same moment; that one is then not sent
again, which is what the provider would have done with it anyway (it refuses a second active
response).

Memory. :data:`UNACKED_AUDIO_S` (15 s) is about 720 KB per session of 24 kHz PCM16 (120 KB at
8 kHz G.711). Under voice detection nothing acknowledges silence (it is never committed), so on
the answer events alone the bound stays full. It cannot simply be smaller: what the user says
into a dead link draws no answer at all, so it must cover the time a dead link takes to be
noticed (``Keepalive.detects_within``, 8 s by default) plus the start of the turn in progress.

What shortens it is proof of delivery combined with the model's voice detection. A connection
with the optional :class:`~voicewire.protocol.ReportsDelivery` hook counts the events that are
known to have reached the model: a pong answering a ping proves that every frame written before
that ping arrived (a WebSocket delivers in order). Audio proven delivered that the model's voice
detection has not reported as speech is silence the model already has: had it been the start of
a turn, a ``speech.started`` would say so, with the turn's padded start in ``audio_start_ms``.
So, while no speech is open (no ``speech.started`` since the last voice-detection commit or
clear), the appends of the input buffer that end more than :meth:`keep_ms` (the turn detection's
``prefix_padding_ms``, 300 ms by default, plus :data:`VAD_REPORT_MARGIN_MS`) before the end of the
last delivered append are dropped. Kept: everything sent after the ping the last pong answered (a
link that died after that pong may have lost it all), the padding and margin before it, an open
turn from its start on, and committed turns until their words come. With pings every 4 s the
ledger holds about 1.3 to 5.5 s of audio instead of 15 s.

The edges, and why each is safe:

* Speech that starts just before a ping: its ``speech.started`` may come after the pong (the
  detector needs some speech first, the report travels back). Its padded start lies less than
  the margin plus the padding before the delivered position, so it is within what is kept.
* A detector slower than the margin: a ``speech.started`` whose ``audio_start_ms`` lies before
  audio already dropped would have lost the start of that turn had the link died. It cannot be
  undone, but it is logged and the margin grows by the shortfall, for the rest of the session.
* Only a model whose voice detection reports where speech starts takes part: the rule applies
  once the model has sent a ``speech.started`` with an ``audio_start_ms`` in this session. A model
  whose detector says nothing (ElevenLabs Agents) or gives no position, and any model before its
  first report, keep the byte bound alone, as does a link without the hook (an in-process model,
  a socket without ``ping()``): nothing there proves what arrived.
* Manual turns: no detector judges the audio; the buffer is the next turn whatever it holds, and
  only a commit or a clear releases it. The rule is off while the turn detection is ``manual``.
* A client's commit while speech is open does not close it (the detector may still be in the
  turn, and report its end later); only a voice-detection commit (after ``speech.stopped``) or a
  clear does.
* Quiet speech the detector missed, later committed by the client under voice detection: its
  older part may have been dropped as silence, so a turn sent again after a drop starts later.
  The detector the model uses called it silence; this is the one loss the rule accepts.
* Dropping delivered silence changes nothing on the current link: the model already has it, and
  the positions the ledger matches (``audio_end_ms``) keep counting all audio sent.
"""

from __future__ import annotations

import logging
import secrets
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCleared,
    AudioInputCommit,
    AudioInputCommitted,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ItemTruncate,
    ReportsDelivery,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ServerEvent,
    SessionConfig,
    SessionError,
    SessionUpdate,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    ToolCall,
    ToolResult,
    ToolResultItem,
    TranscriptInput,
    TranscriptOutput,
    TurnDetection,
)

__all__ = ["UNACKED_AUDIO_S", "VAD_REPORT_MARGIN_MS", "Unacknowledged", "with_item_id"]

log = logging.getLogger("voicewire.session")

UNACKED_AUDIO_S = 15.0
"""Seconds of input audio kept until the model acknowledges it (see the module's "Memory")."""

VAD_REPORT_MARGIN_MS = 1000.0
"""How much delivered audio, beyond the turn's padding, the model's voice detection is given to
report a speech start before the audio is dropped as silence (see the module's "Memory")."""

_DEFAULT_PADDING_MS = 300
"""``prefix_padding_ms`` when the turn detection leaves it to the model (OpenAI's, the local and
the scripted model's default)."""

_POSITION_SLACK_MS = 1e-6
"""Float rounding in the sum of append lengths; far below one sample."""

_COMMIT_EMPTY = "input_audio_buffer_commit_empty"
"""The model's refusal of a commit (voice detection had already committed the buffer)."""


def with_item_id(event: ClientEvent) -> ClientEvent:
    """``event`` with a client-chosen id on the item it creates, if it had none.

    OpenAI-protocol providers (and the local and scripted models) keep a client's item id, so the
    model's ``item.created`` names the item the session sent and can acknowledge it.
    """
    if isinstance(event, ItemCreate) and event.item.id is None:
        return replace(event, item=replace(event.item, id=f"item_vw{secrets.token_hex(8)}"))
    return event


@dataclass(slots=True)
class _Turn:
    """A committed user turn whose words the model has not given yet."""

    audio: deque[tuple[int, bytes]] = field(default_factory=deque)
    """Its appends (ledger sequence number, audio), oldest first."""
    commit: int | None = None
    """The client's ``audio.input.commit`` that made it; ``None`` when voice detection did."""


@dataclass(slots=True)
class _OpenResponse:
    """The response in progress on this link."""

    response_id: str | None
    request: ResponseCreate
    """What to send to ask for it again (the ``response.create`` that asked for it)."""
    began_at: int
    """Ledger sequence numbers below this were sent before it began."""
    answers: tuple[str, ...]
    """The committed turns it answers (those waiting for their words when it began)."""
    ask_again: bool = True
    """Ask for it again if the link dies before it ends; ``False`` once cancelled,
    interrupted, superseded, or once it has said something complete."""


class Unacknowledged:
    """Client events sent on the current link that the model has not acknowledged, in the order
    they were sent; at most ``max_audio_bytes`` of input audio among them.

    Every event the session sends gets the next sequence number, kept or not, so that a link's
    :class:`~voicewire.protocol.ReportsDelivery` count (of the events given to its ``send()``)
    names the sequence numbers that arrived. The input buffer's appends are held as three
    parallel queues of plain values (number, audio, end position) rather than as event objects:
    one audio frame then leaves nothing behind that the garbage collector has to track.
    """

    def __init__(self, max_audio_bytes: int, turn_detection: TurnDetection | None = None) -> None:
        self.max_audio_bytes = max_audio_bytes
        self._next_seq = 0
        self._ms_per_byte = 1000 / AudioFormat.pcm16().bytes_per_second
        self._turn_detection = turn_detection or TurnDetection()
        self._margin_ms = VAD_REPORT_MARGIN_MS
        self._speech_positions = False  # the model reported where a speech started
        self._reset()

    def _reset(self) -> None:
        self._link_start = self._next_seq  # the first sequence number on this link
        self._link: ReportsDelivery | None = None
        self._proven = 0  # the link's delivered count when last looked at
        self._events: dict[int, ClientEvent] = {}  # all kept but the buffer's and turns' audio
        self._items: dict[str, int] = {}
        self._results: dict[str, int] = {}
        self._deletes: dict[str, int] = {}
        self._creates: deque[int] = deque()  # a cancelled one stays, empty, to keep the order
        self._commits: deque[int] = deque()
        self._clears: deque[int] = deque()
        self._audio_bytes = 0
        self._buffer_seq: deque[int] = deque()  # the input buffer's appends, oldest first ...
        self._buffer_audio: deque[bytes] = deque()
        self._buffer_end: deque[float] = deque()  # ... and the link position after each, in ms
        self._position_ms = 0.0
        self._stopped = False  # speech.stopped came: the next commit is voice detection's
        self._stopped_at: float | None = None  # ... and where its buffer ends, if told
        self._speech_open = False  # speech.started came, its voice-detection commit not yet
        self._dropped_to_ms = 0.0  # where the audio dropped as heard silence ends
        self._turns: dict[str, _Turn] = {}
        self._response: _OpenResponse | None = None

    def __len__(self) -> int:
        turns = sum(len(turn.audio) for turn in self._turns.values())
        return len(self._events) + len(self._buffer_seq) + turns

    @property
    def audio_bytes(self) -> int:
        return self._audio_bytes

    def keep_ms(self) -> float:
        """How much delivered audio before the delivered position stays while no speech is open:
        the turn's padding plus the margin for the detector's report."""
        padding = self._turn_detection.prefix_padding_ms
        return (_DEFAULT_PADDING_MS if padding is None else padding) + self._margin_ms

    def link(self, connection: object) -> None:
        """The session now sends on ``connection``: what its
        :class:`~voicewire.protocol.ReportsDelivery` count proves arrived may be dropped as heard
        silence (a connection without the hook proves nothing)."""
        self._link = connection if isinstance(connection, ReportsDelivery) else None
        self._proven = 0

    def sent(self, event: ClientEvent) -> None:
        """``event`` went out on the current link."""
        seq = self._next_seq
        self._next_seq = seq + 1
        if isinstance(event, AudioInputAppend):  # first, and inline: one per audio frame
            audio = event.audio
            self._position_ms += len(audio) * self._ms_per_byte
            self._buffer_seq.append(seq)
            self._buffer_audio.append(audio)
            self._buffer_end.append(self._position_ms)
            self._audio_bytes += len(audio)
            if self._audio_bytes > self.max_audio_bytes:
                self._trim_audio()
            link = self._link
            if link is not None and link.delivered != self._proven:
                self._drop_heard_silence()
        elif isinstance(event, ItemCreate):
            if event.item.id is not None:
                self._items[event.item.id] = self._keep(seq, event)
        elif isinstance(event, ToolResult):
            self._results[event.call_id] = self._keep(seq, event)
        elif isinstance(event, ResponseCreate):
            self._creates.append(self._keep(seq, event))
            self._not_again()  # superseded: this one brings the next response
        elif isinstance(event, ResponseCancel):
            for create in self._creates:
                self._forget(create)
            self._not_again()
        elif isinstance(event, ItemTruncate):
            self._not_again()  # the listener cut the assistant off
        elif isinstance(event, SessionUpdate):
            self._configure(event.config)
        elif isinstance(event, ItemDelete):
            self._deletes[event.item_id] = self._keep(seq, event)
        elif isinstance(event, AudioInputCommit):
            self._commits.append(self._keep(seq, event))
        elif isinstance(event, AudioInputClear):
            self._clears.append(self._keep(seq, event))

    def acknowledge(self, event: ServerEvent) -> None:
        """The model said ``event``: forget what it shows has arrived."""
        if isinstance(event, ItemCreated):
            item = event.item
            if item.id is not None:
                self._forget(self._items.pop(item.id, None))
            if isinstance(item, ToolResultItem):
                self._forget(self._results.pop(item.call_id, None))
        elif isinstance(event, TranscriptInput):
            if event.item_id is not None:
                self._drop_turn(event.item_id)
        elif isinstance(event, ResponseCreated):
            self._response_began(event.response_id)
        elif isinstance(event, TextOutput | TranscriptOutput | ToolCall):
            self._response_answered()  # it said something: the replay carries it
        elif isinstance(event, ResponseDone):
            self._response_answered()
            self._response = None
        elif isinstance(event, SpeechStarted):
            self._not_again()  # the user spoke over it
            self._speech_began(event.audio_start_ms)
        elif isinstance(event, ResponseInterrupted):
            self._not_again()
        elif isinstance(event, SpeechStopped):
            self._stopped, self._stopped_at = True, event.audio_end_ms
        elif isinstance(event, AudioInputCommitted):
            self._committed(event.item_id)
        elif isinstance(event, AudioInputCleared):
            self._cleared()
        elif isinstance(event, ItemDeleted):
            self._forget(self._deletes.pop(event.item_id, None))
            self._drop_turn(event.item_id)
        elif isinstance(event, SessionError) and event.code == _COMMIT_EMPTY:
            self._forget(self._commits.popleft() if self._commits else None)

    def take(
        self,
        replayed: Sequence[ClientEvent],
        config: SessionConfig,
        queued: Iterable[ClientEvent] = (),
    ) -> list[ClientEvent]:
        """Everything still owed to the model, in the order it was sent, for a new link that
        opens with ``config`` and hears ``replayed`` (the history) first and ``queued`` (what
        was said meanwhile) after: what was never acknowledged, minus what the replay carries;
        committed turns the replay cannot carry (no words yet), as their audio; and the
        response the drop cut off, asked for again (see the module docstring). The ledger then
        starts empty for the new link."""
        ids = {e.item.id for e in replayed if isinstance(e, ItemCreate) and e.item.id}
        calls = {
            e.item.call_id
            for e in replayed
            if isinstance(e, ItemCreate) and isinstance(e.item, ToolResultItem)
        }
        for item_id in [i for i in self._turns if i in ids]:
            self._drop_turn(item_id)  # the replay carries its words
        owed: list[ClientEvent] = []
        ask_again = self._ask_again(config, queued)
        for seq, event in self._in_order():
            if ask_again is not None and seq >= ask_again.began_at:
                owed.append(ask_again.request)
                ask_again = None
            if (isinstance(event, ItemCreate) and event.item.id in ids) or (
                isinstance(event, ToolResult) and event.call_id in calls
            ):
                continue
            owed.append(event)
        if ask_again is not None:
            owed.append(ask_again.request)
        self._configure(config)
        self._reset()
        return owed

    # -- internals -------------------------------------------------------------------------------

    def _keep(self, seq: int, event: ClientEvent) -> int:
        self._events[seq] = event
        return seq

    def _forget(self, seq: int | None) -> None:
        if seq is not None:
            self._events.pop(seq, None)

    def _in_order(self) -> list[tuple[int, ClientEvent]]:
        """Every kept event with its sequence number, in the order sent."""
        kept: list[tuple[int, ClientEvent]] = list(self._events.items())
        for turn in self._turns.values():
            kept.extend((seq, AudioInputAppend(audio)) for seq, audio in turn.audio)
        kept.extend(
            (seq, AudioInputAppend(audio))
            for seq, audio in zip(self._buffer_seq, self._buffer_audio, strict=True)
        )
        kept.sort(key=lambda entry: entry[0])
        return kept

    def _configure(self, config: SessionConfig) -> None:
        """Take the input format and turn detection of a config sent or opened with (a config
        that leaves either out keeps the current one)."""
        if config.input_audio_format is not None:
            self._ms_per_byte = 1000 / config.input_audio_format.bytes_per_second
        if config.turn_detection is not None:
            self._turn_detection = config.turn_detection

    def _pop_buffer(self) -> tuple[int, bytes]:
        """Take the oldest append off the input buffer."""
        self._buffer_end.popleft()
        return self._buffer_seq.popleft(), self._buffer_audio.popleft()

    def _trim_audio(self) -> None:
        """Keep the latest ``max_audio_bytes`` of audio: the oldest committed turns go first,
        then the oldest of the buffer."""
        while self._audio_bytes > self.max_audio_bytes:
            if self._turns:
                item_id, turn = next(iter(self._turns.items()))
                if turn.audio:
                    self._audio_bytes -= len(turn.audio.popleft()[1])
                if not turn.audio:
                    self._drop_turn(item_id)
            elif self._buffer_seq:
                self._audio_bytes -= len(self._pop_buffer()[1])
            else:
                break

    def _drop_heard_silence(self) -> None:
        """Drop the oldest appends of the buffer that the model has (the link proved them
        delivered) and heard as silence (no speech open), up to :meth:`keep_ms` before the end
        of the last delivered one (see the module's "Memory")."""
        link = self._link
        if link is None:
            return
        self._proven = link.delivered
        if self._speech_open or not self._speech_positions or self._turn_detection.mode == "manual":
            return
        delivered = bisect_left(self._buffer_seq, self._link_start + self._proven)
        if delivered == 0:
            return
        ends = self._buffer_end
        bound = ends[delivered - 1] - self.keep_ms()
        while ends and ends[0] <= bound:
            self._dropped_to_ms = ends[0]
            self._audio_bytes -= len(self._pop_buffer()[1])

    def _speech_began(self, audio_start_ms: int | None) -> None:
        self._speech_open = True
        if audio_start_ms is None:
            return
        self._speech_positions = True
        shortfall = self._dropped_to_ms - audio_start_ms
        if shortfall > 0:  # the detector was slower than the margin: give it more from now on
            self._margin_ms += shortfall
            log.warning(
                "speech.started at %d ms came after audio up to %.0f ms was dropped as silence; "
                "the margin for voice detection's reports grows to %.0f ms",
                audio_start_ms,
                self._dropped_to_ms,
                self._margin_ms,
            )

    def _committed(self, item_id: str | None) -> None:
        """The model committed its input buffer into the user item ``item_id``."""
        commit: int | None = None
        if self._stopped:  # voice detection's commit, up to where speech.stopped put its end
            end = self._stopped_at
            used = self._take_buffer(lambda _seq, at: end is None or at <= end + _POSITION_SLACK_MS)
            self._speech_open = False  # the turn it opened is committed
        elif self._commits:  # the client's: the audio sent before its commit
            until = commit = self._commits.popleft()
            used = self._take_buffer(lambda seq, _at: seq < until)
        else:  # a model that commits without saying where: the whole buffer
            used = self._take_buffer(lambda _seq, _at: True)
        self._stopped, self._stopped_at = False, None
        turn = _Turn(used, commit)
        if item_id is None:  # its words could never be matched to it
            self._release(turn)
        else:
            self._turns[item_id] = turn
        self._drop_heard_silence()

    def _cleared(self) -> None:
        """The model emptied its input buffer: the audio before the client's clear is gone."""
        until = self._clears.popleft() if self._clears else None
        self._forget(until)
        for _seq, audio in self._take_buffer(lambda seq, _at: until is None or seq < until):
            self._audio_bytes -= len(audio)
        self._stopped, self._stopped_at = False, None
        self._speech_open = False
        self._drop_heard_silence()

    def _take_buffer(self, used: Callable[[int, float], bool]) -> deque[tuple[int, bytes]]:
        """Take the appends off the front of the buffer while ``used(seq, end position)``."""
        taken: deque[tuple[int, bytes]] = deque()
        while self._buffer_seq and used(self._buffer_seq[0], self._buffer_end[0]):
            taken.append(self._pop_buffer())
        return taken

    def _drop_turn(self, item_id: str) -> None:
        turn = self._turns.pop(item_id, None)
        if turn is not None:
            self._release(turn)

    def _release(self, turn: _Turn) -> None:
        for _seq, audio in turn.audio:
            self._audio_bytes -= len(audio)
        self._forget(turn.commit)

    def _response_began(self, response_id: str | None) -> None:
        seq = self._creates.popleft() if self._creates else None
        request = self._events.pop(seq, None) if seq is not None else ResponseCreate()
        cancelled = not isinstance(request, ResponseCreate)  # by the user, before it began
        self._response = _OpenResponse(
            response_id,
            request if isinstance(request, ResponseCreate) else ResponseCreate(),
            self._next_seq,
            tuple(self._turns),
            ask_again=not cancelled,
        )

    def _not_again(self) -> None:
        if self._response is not None:
            self._response.ask_again = False

    def _response_answered(self) -> None:
        """The open response said something complete, or ended: the turns it answers are in the
        model's hands, and it is not asked for again."""
        response = self._response
        if response is not None:
            response.ask_again = False
            for item_id in response.answers:
                self._drop_turn(item_id)
            response.answers = ()

    def _ask_again(
        self, config: SessionConfig, queued: Iterable[ClientEvent]
    ) -> _OpenResponse | None:
        """The response cut by the drop, if the new link should be asked for it again."""
        response = self._response
        if response is None or not response.ask_again:
            return None
        if any(isinstance(e, ResponseCreate) for e in self._events.values()):
            return None  # a newer request is sent again
        if any(isinstance(e, ResponseCreate | ResponseCancel | ItemTruncate) for e in queued):
            return None  # superseded or interrupted while reconnecting
        turn_detection = config.turn_detection or TurnDetection()
        answers_itself = turn_detection.mode != "manual" and turn_detection.create_response
        if answers_itself and any(t.commit is None and t.audio for t in self._turns.values()):
            return None  # a voice turn sent again: voice detection answers it by itself
        return response
