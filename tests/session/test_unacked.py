"""The ledger of what was sent on the current link and not yet acknowledged: what acknowledges
what, the audio bound, and what is handed back after a reconnect (in order, each once). The
end-to-end proof over a dead link is tests/e2e/test_dead_link_e2e.py."""

from __future__ import annotations

import pytest

from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCleared,
    AudioInputCommit,
    AudioInputCommitted,
    AudioPart,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ItemTruncate,
    MessageItem,
    ResponseCancel,
    ResponseConfig,
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
    TextPart,
    ToolCall,
    ToolResult,
    ToolResultItem,
    TranscriptInput,
    TranscriptOutput,
    TurnDetection,
    user_text,
)
from voicewire.session.reconnect import replay_events
from voicewire.session.unacked import Unacknowledged, with_item_id

CONFIG = SessionConfig(instructions="Answer.")
MANUAL = SessionConfig(turn_detection=TurnDetection("manual"))


def ledger_of(*events: ClientEvent, max_audio_bytes: int = 1000) -> Unacknowledged:
    ledger = Unacknowledged(max_audio_bytes)
    for event in events:
        ledger.sent(event)
    return ledger


def test_an_item_without_an_id_is_named_before_it_is_sent() -> None:
    named = with_item_id(ItemCreate(user_text("hi")))
    assert isinstance(named, ItemCreate) and named.item.id and named.item.id.startswith("item_")
    assert len(named.item.id) <= 32  # OpenAI's limit for client item ids
    kept = ItemCreate(user_text("hi", "mine"))
    assert with_item_id(kept) is kept
    other = ResponseCreate()
    assert with_item_id(other) is other


def test_each_event_is_acknowledged_by_its_own_answer() -> None:
    hello = ItemCreate(user_text("hello", "i1"))
    result = ToolResult("call_1", "sunny", "weather")
    ledger = ledger_of(hello, result, ResponseCreate(), ItemDelete("i0"))
    ledger.acknowledge(ItemCreated(user_text("someone else's", "i9")))  # not ours
    assert len(ledger) == 4
    ledger.acknowledge(ItemCreated(hello.item))
    ledger.acknowledge(ItemCreated(ToolResultItem("item_x", "call_1", "sunny")))
    ledger.acknowledge(ResponseCreated("resp_1"))
    ledger.acknowledge(ItemDeleted("i0"))
    assert len(ledger) == 0


def test_audio_is_acknowledged_when_its_turn_has_words_or_its_buffer_is_cleared() -> None:
    ledger = ledger_of(AudioInputAppend(b"a" * 10), AudioInputCommit(), AudioInputAppend(b"b" * 10))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(TranscriptInput("item_1", "hello"))
    # The commit took the audio before it; the audio after it is for the next turn.
    assert ledger.take([], CONFIG) == [AudioInputAppend(b"b" * 10)]
    ledger = ledger_of(AudioInputAppend(b"a" * 10), AudioInputAppend(b"b" * 10))
    ledger.acknowledge(AudioInputCommitted("item_2"))  # a model that commits without a position
    ledger.acknowledge(TranscriptInput("item_2", "hello"))
    assert len(ledger) == 0 and ledger.audio_bytes == 0
    ledger = ledger_of(AudioInputAppend(b"a" * 10), AudioInputClear())
    ledger.acknowledge(AudioInputCleared())
    assert len(ledger) == 0


def test_only_the_latest_audio_is_kept() -> None:
    frames = [AudioInputAppend(bytes([n]) * 100) for n in range(25)]
    ledger = ledger_of(*frames, max_audio_bytes=1000)
    assert ledger.audio_bytes == 1000
    assert ledger.take([], CONFIG) == frames[-10:]


def test_what_dies_with_the_link_is_not_kept() -> None:
    ledger = ledger_of(ResponseCancel("resp_1"), ItemTruncate("i1", 500))
    assert len(ledger) == 0


def test_after_a_reconnect_the_rest_comes_back_in_order_each_once() -> None:
    held = MessageItem("i1", "user", (TextPart("in the history already"),))
    events: list[ClientEvent] = [
        ItemCreate(held),
        AudioInputAppend(b"\x01" * 10),
        ItemCreate(user_text("never acknowledged", "i2")),
        ToolResult("call_1", "in the history already"),
        ToolResult("call_2", "never acknowledged"),
        SessionUpdate(CONFIG),  # the new link opens with the session's config: never kept
        ResponseCreate(),
    ]
    ledger = ledger_of(*events)
    replay = replay_events([held, ToolResultItem("i3", "call_1", "in the history already")])
    owed = ledger.take(replay, CONFIG)
    assert owed == [events[1], events[2], events[4], events[6]]
    assert len(ledger) == 0 and ledger.audio_bytes == 0  # the new link starts afresh
    assert ledger.take([], CONFIG) == []


# -- settings: the new link opens with the latest config ------------------------------------------


def test_unacknowledged_updates_never_roll_the_config_back() -> None:
    older, newer = SessionConfig(instructions="A"), SessionConfig(instructions="B")
    ledger = ledger_of(SessionUpdate(older), SessionUpdate(newer))
    # The new link opens with B (the session's config): sending A again would undo it.
    assert ledger.take([], newer) == []


def test_an_update_of_the_input_format_changes_how_audio_positions_are_counted() -> None:
    ledger = Unacknowledged(10_000)
    ledger.sent(SessionUpdate(SessionConfig(input_audio_format=AudioFormat.pcmu())))  # 8 B/ms
    first, second = AudioInputAppend(b"\xff" * 80), AudioInputAppend(b"\xff" * 80)  # 10 ms each
    ledger.sent(first)
    ledger.sent(second)
    ledger.acknowledge(SpeechStopped("item_1", 10))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(TranscriptInput("item_1", "hi"))
    assert ledger.take([], CONFIG) == [second]


# -- speech: a committed turn without words is sent again as audio --------------------------------

FRAME = 480
"""10 ms of 24 kHz PCM16, the ledger's format until told another."""


def frames(count: int, first: int = 1) -> list[AudioInputAppend]:
    return [AudioInputAppend(bytes([first + n]) * FRAME) for n in range(count)]


def test_a_voice_turn_committed_without_words_comes_back_as_its_audio_once() -> None:
    spoken = frames(3)
    ledger = ledger_of(*spoken, max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 30))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(ItemCreated(MessageItem("item_1", "user", (AudioPart(),))))
    # The link dies before the transcript: the history item has no words, the replay leaves it
    # out, so the audio goes again (voice detection commits it again by itself).
    replay = replay_events([MessageItem("item_1", "user", (AudioPart(),))])
    assert replay == []
    assert ledger.take(replay, CONFIG) == spoken


def test_a_manual_turn_committed_without_words_comes_back_with_its_commit() -> None:
    spoken = frames(2)
    ledger = ledger_of(*spoken, AudioInputCommit(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(AudioInputCommitted("item_1"))
    assert ledger.take([], CONFIG) == [*spoken, AudioInputCommit()]


def test_a_turn_whose_words_are_known_is_not_sent_again() -> None:
    ledger = ledger_of(*frames(2), AudioInputCommit(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(TranscriptInput("item_1", "hello"))
    assert ledger.take([], CONFIG) == []
    # Words that reach the history some other way: the replay carries them, the audio stays home.
    ledger = ledger_of(*frames(2), AudioInputCommit(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(AudioInputCommitted("item_2"))
    replay = replay_events([MessageItem("item_2", "user", (AudioPart("hello"),))])
    assert ledger.take(replay, CONFIG) == replay[:0]
    assert ledger.audio_bytes == 0


def test_a_turn_the_model_has_answered_or_deleted_is_not_sent_again() -> None:
    # Without transcription the words never come; the answer shows the model took the turn.
    ledger = ledger_of(*frames(2), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 20))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(ResponseCreated("resp_1"))
    ledger.acknowledge(ResponseDone("resp_1"))
    assert len(ledger) == 0
    ledger = ledger_of(*frames(2), AudioInputCommit(), ItemDelete("item_2"))
    ledger.acknowledge(AudioInputCommitted("item_2"))
    ledger.acknowledge(ItemDeleted("item_2"))
    assert len(ledger) == 0


def test_the_audio_bound_takes_the_oldest_turn_first() -> None:
    old, new = frames(2), frames(2, first=10)
    ledger = ledger_of(*old, max_audio_bytes=3 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 20))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    for frame in new:
        ledger.sent(frame)
    assert ledger.audio_bytes == 3 * FRAME
    assert ledger.take([], CONFIG) == [old[1], *new]


# -- which audio a commit took ---------------------------------------------------------------------


def test_a_voice_commit_takes_only_the_audio_up_to_where_speech_stopped() -> None:
    a, b, c = frames(3)
    ledger = ledger_of(a, b, c, max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 20))  # the buffer was cut after b
    ledger.acknowledge(AudioInputCommitted("item_1"))  # c was appended meanwhile
    ledger.acknowledge(TranscriptInput("item_1", "hello"))
    assert ledger.take([], CONFIG) == [c]  # the next turn's start is kept


def test_a_voice_commit_does_not_take_the_clients_commit() -> None:
    a, b = frames(2)
    ledger = ledger_of(a, b, AudioInputCommit(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 10))
    ledger.acknowledge(AudioInputCommitted("item_1"))  # voice detection's, not the client's
    ledger.acknowledge(TranscriptInput("item_1", "one"))
    assert ledger.take([], CONFIG) == [b, AudioInputCommit()]
    ledger = ledger_of(a, b, AudioInputCommit(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 10))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(AudioInputCommitted("item_2"))  # then the client's, with b
    ledger.acknowledge(TranscriptInput("item_1", "one"))
    ledger.acknowledge(TranscriptInput("item_2", "two"))
    assert len(ledger) == 0


def test_a_client_commit_refused_as_empty_is_forgotten() -> None:
    a = frames(1)[0]
    ledger = ledger_of(a, AudioInputCommit(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 10))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(TranscriptInput("item_1", "one"))
    ledger.acknowledge(SessionError("input_audio_buffer_commit_empty", "buffer is empty"))
    assert len(ledger) == 0


# -- responses: cancelled ones stay cancelled, cut ones are asked for again -----------------------


def test_a_cancel_drops_the_requests_not_yet_acknowledged() -> None:
    ledger = ledger_of(ResponseCreate(), ResponseCancel())
    assert ledger.take([], CONFIG) == []
    # The cancelled request keeps its place: its response.created does not acknowledge a newer one.
    later = ResponseCreate(ResponseConfig(instructions="later"))
    ledger = ledger_of(ResponseCreate(), ResponseCancel(), later)
    ledger.acknowledge(ResponseCreated("resp_1"))  # the cancelled one, started then cancelled
    assert ledger.take([], CONFIG) == [later]


def test_a_response_cut_by_the_drop_is_asked_for_again_once() -> None:
    asked = ResponseCreate(ResponseConfig(instructions="briefly"))
    ledger = ledger_of(ItemCreate(user_text("question", "i1")), asked)
    ledger.acknowledge(ItemCreated(user_text("question", "i1")))
    ledger.acknowledge(ResponseCreated("resp_1"))
    replay = replay_events([user_text("question", "i1")])
    assert ledger.take(replay, CONFIG) == [asked]
    assert ledger.take([], CONFIG) == []


def test_a_cut_response_is_asked_for_where_it_began() -> None:
    before, after = frames(2)
    ledger = ledger_of(before, ResponseCreate(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(ResponseCreated("resp_1"))
    ledger.sent(after)
    assert ledger.take([], MANUAL) == [before, ResponseCreate(), after]


def test_a_manual_turn_and_its_cut_response_come_back_in_order() -> None:
    spoken = frames(2)
    ledger = ledger_of(*spoken, AudioInputCommit(), ResponseCreate(), max_audio_bytes=100 * FRAME)
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(ResponseCreated("resp_1"))
    assert ledger.take([], MANUAL) == [*spoken, AudioInputCommit(), ResponseCreate()]


@pytest.mark.parametrize(
    ("after", "why"),
    [
        (ResponseCancel(), "the user cancelled it"),
        (ItemTruncate("item_a", 300), "the user interrupted it"),
        (SpeechStarted("item_2", 500), "the user spoke over it"),
        (ResponseInterrupted("resp_1"), "the model reports the user spoke over it"),
        (TextOutput("resp_1", "item_a", "Done."), "it said something complete"),
        (TranscriptOutput("resp_1", "item_a", "Done."), "it said something complete"),
        (ToolCall("call_1", "weather", "{}", "item_a", "resp_1"), "it called a tool"),
        (ResponseDone("resp_1"), "it ended"),
        (ResponseCreate(), "a newer request supersedes it"),
    ],
)
def test_a_response_is_not_asked_for_again_when(after: ClientEvent | ServerEvent, why: str) -> None:
    ledger = ledger_of(ResponseCreate())
    ledger.acknowledge(ResponseCreated("resp_1"))
    if isinstance(after, ClientEvent):
        ledger.sent(after)
    else:
        ledger.acknowledge(after)
    owed = ledger.take([], CONFIG)
    assert owed.count(ResponseCreate()) == (1 if isinstance(after, ResponseCreate) else 0), why


def test_a_response_is_not_asked_for_again_when_what_follows_supersedes_it() -> None:
    for queued in (ResponseCreate(), ResponseCancel(), ItemTruncate("item_a", 300)):
        ledger = ledger_of(ResponseCreate())
        ledger.acknowledge(ResponseCreated("resp_1"))
        assert ledger.take([], CONFIG, [queued]) == []


def test_a_voice_turn_sent_again_brings_its_own_response() -> None:
    spoken = frames(2)
    ledger = ledger_of(*spoken, max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 20))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(ResponseCreated("resp_1"))  # voice detection's answer, cut by the drop
    assert ledger.take([], CONFIG) == spoken  # voice detection answers the turn again
    ledger = ledger_of(*spoken, max_audio_bytes=100 * FRAME)
    ledger.acknowledge(SpeechStopped("item_1", 20))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    ledger.acknowledge(ResponseCreated("resp_1"))
    ledger.acknowledge(TranscriptInput("item_1", "what time is it"))
    # The words are in the replay this time: nothing would answer them but a new request.
    replay = replay_events([MessageItem("item_1", "user", (AudioPart("what time is it"),))])
    assert ledger.take(replay, CONFIG) == [ResponseCreate()]


# -- silence the model has and heard as silence is not kept (the module's "Memory") ---------------

KEEP_MS = 300 + 1000
"""The default padding plus the margin for voice detection's report."""


class OnLink:
    """A ledger and the link it sends on, whose ``delivered`` count (the ReportsDelivery hook)
    moves only on :meth:`pong`, as a pinging connection's does."""

    def __init__(self, config: SessionConfig = CONFIG) -> None:
        self.ledger = Unacknowledged(1000 * FRAME)  # 10 s
        self.ledger.take([], config)  # the session's first link opens with config
        self.delivered = 0
        self.count = 0
        self.ledger.link(self)

    def send(self, *events: ClientEvent) -> None:
        for event in events:
            self.ledger.sent(event)
            self.count += 1

    def pong(self) -> None:
        """A pong answers a ping sent now: everything sent so far has arrived."""
        self.delivered = self.count

    def speak_a_turn(self, item_id: str = "item_1") -> None:
        """A 20 ms turn, committed and transcribed: the model showed where its speech started."""
        self.send(*frames(2))
        for event in (
            SpeechStarted(item_id, 0),
            SpeechStopped(item_id, 20),
            AudioInputCommitted(item_id),
            TranscriptInput(item_id, "hi"),
        ):
            self.ledger.acknowledge(event)


def quiet(count: int) -> list[AudioInputAppend]:
    """``count`` 10 ms frames, each its own bytes (so that their order shows)."""
    return [AudioInputAppend(n.to_bytes(2, "little") * (FRAME // 2)) for n in range(count)]


def test_silence_proven_delivered_is_dropped_up_to_the_padding_and_margin() -> None:
    link = OnLink()
    link.speak_a_turn()
    silence = quiet(300)  # 3 s, from 20 ms to 3020 ms
    link.send(*silence)
    assert link.ledger.audio_bytes == 300 * FRAME  # nothing proven yet: all kept
    link.pong()
    after = AudioInputAppend(b"\x07" * FRAME)
    link.send(after)  # the ledger looks at the link as audio goes out
    # Delivered up to 3020 ms: what ends by 3020 - 1300 = 1720 ms (170 frames) goes.
    assert link.ledger.take([], CONFIG) == [*silence[170:], after]


def test_what_was_sent_after_the_last_answered_ping_is_all_kept() -> None:
    link = OnLink()
    link.speak_a_turn()
    before, into_the_dead_link = quiet(300), quiet(800)
    link.send(*before)
    link.pong()  # the last pong: the link dies after it
    link.send(*into_the_dead_link)  # 8 s that no pong proves
    assert link.ledger.take([], CONFIG) == [*before[170:], *into_the_dead_link]


def test_speech_is_kept_until_its_turn_is_committed_and_has_words() -> None:
    link = OnLink()
    link.speak_a_turn()
    silence, speech = quiet(100), quiet(200)
    link.send(*silence)  # 20-1020 ms
    link.ledger.acknowledge(SpeechStarted("item_2", 720))
    link.send(*speech)  # 1020-3020 ms
    link.pong()
    link.send(*quiet(1))
    assert link.ledger.audio_bytes == 301 * FRAME  # speech open: nothing goes
    link.ledger.acknowledge(SpeechStopped("item_2", 3020))
    link.ledger.acknowledge(AudioInputCommitted("item_2"))
    # Committed, no words yet: the whole turn stays, to be sent again if the link dies.
    assert link.ledger.audio_bytes == 301 * FRAME
    link.ledger.acknowledge(TranscriptInput("item_2", "what time is it"))
    assert link.ledger.audio_bytes == FRAME


def test_manual_turns_keep_the_byte_bound_alone() -> None:
    link = OnLink(MANUAL)
    link.ledger.acknowledge(SpeechStarted("item_1", 0))  # even if a model reported one
    link.send(*quiet(300))
    link.pong()
    link.send(*quiet(1))
    assert link.ledger.audio_bytes == 301 * FRAME
    # Switching to manual turns mid-link turns the rule off too.
    link = OnLink()
    link.speak_a_turn()
    link.send(SessionUpdate(MANUAL), *quiet(300))
    link.pong()
    link.send(*quiet(1))
    assert link.ledger.audio_bytes == 301 * FRAME


@pytest.mark.parametrize(
    "said",
    [
        [],  # a detector that says nothing (or no turn yet)
        [
            SpeechStarted("item_1", None),
            SpeechStopped("item_1", None),
            AudioInputCommitted("item_1"),
        ],
    ],
)
def test_a_model_that_never_says_where_speech_starts_keeps_the_byte_bound(
    said: list[ServerEvent],
) -> None:
    link = OnLink()
    for event in said:
        link.ledger.acknowledge(event)
    link.send(*quiet(300))
    link.pong()
    link.send(*quiet(1))
    assert link.ledger.audio_bytes == 301 * FRAME


def test_a_link_that_cannot_tell_what_arrived_keeps_the_byte_bound() -> None:
    link = OnLink()
    link.speak_a_turn()
    link.ledger.link(object())  # no delivered count
    link.send(*quiet(300))
    link.pong()
    link.send(*quiet(1))
    assert link.ledger.audio_bytes == 301 * FRAME


def test_a_detector_slower_than_the_margin_gets_a_wider_one() -> None:
    link = OnLink()
    link.speak_a_turn()
    link.send(*quiet(300))
    link.pong()
    link.send(*quiet(1))  # dropped up to 1720 ms
    assert link.ledger.keep_ms() == KEEP_MS
    link.ledger.acknowledge(SpeechStarted("item_2", 1500))  # speech began in what was dropped
    assert link.ledger.keep_ms() == KEEP_MS + 220


def test_a_clients_commit_during_speech_leaves_the_speech_open() -> None:
    link = OnLink()
    link.speak_a_turn()
    link.ledger.acknowledge(SpeechStarted("item_2", 20))
    link.send(*quiet(100), AudioInputCommit())  # the client commits while the user speaks
    link.ledger.acknowledge(AudioInputCommitted("item_2"))
    link.ledger.acknowledge(TranscriptInput("item_2", "so"))
    speech = quiet(300)  # the detector may still be in the turn: nothing goes
    link.send(*speech)
    link.pong()
    link.send(*quiet(1))
    assert link.ledger.audio_bytes == 301 * FRAME
    # Its end and voice detection's commit close it: then heard silence goes again.
    link.ledger.acknowledge(SpeechStopped("item_3", 1020))
    link.ledger.acknowledge(AudioInputCommitted("item_3"))
    link.ledger.acknowledge(TranscriptInput("item_3", "what"))
    link.send(*quiet(1))
    assert link.ledger.audio_bytes < 301 * FRAME
