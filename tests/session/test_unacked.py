"""The ledger of what was sent on the current link and not yet acknowledged: what acknowledges
what, the audio bound, and what is handed back after a reconnect (in order, each once). The
end-to-end proof over a dead link is tests/e2e/test_dead_link_e2e.py."""

from __future__ import annotations

from voicewire.protocol import (
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
    MessageItem,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    SessionConfig,
    SessionUpdate,
    SessionUpdated,
    TextPart,
    ToolResult,
    ToolResultItem,
    user_text,
)
from voicewire.session.reconnect import replay_events
from voicewire.session.unacked import Unacknowledged, with_item_id

CONFIG = SessionConfig(instructions="Answer.")


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
    update = SessionUpdate(CONFIG)
    ledger = ledger_of(hello, result, ResponseCreate(), update, ItemDelete("i0"))
    ledger.acknowledge(ItemCreated(user_text("someone else's", "i9")))  # not ours
    assert len(ledger) == 5
    ledger.acknowledge(ItemCreated(hello.item))
    ledger.acknowledge(ItemCreated(ToolResultItem("item_x", "call_1", "sunny")))
    ledger.acknowledge(ResponseCreated("resp_1"))
    ledger.acknowledge(SessionUpdated(CONFIG))
    ledger.acknowledge(ItemDeleted("i0"))
    assert len(ledger) == 0


def test_audio_is_acknowledged_when_its_buffer_is_committed_or_cleared() -> None:
    ledger = ledger_of(AudioInputAppend(b"a" * 10), AudioInputCommit(), AudioInputAppend(b"b" * 10))
    ledger.acknowledge(AudioInputCommitted("item_1"))
    # The commit took the audio before it; the audio after it is for the next turn.
    assert ledger.take([], CONFIG) == [AudioInputAppend(b"b" * 10)]
    ledger = ledger_of(AudioInputAppend(b"a" * 10), AudioInputAppend(b"b" * 10))
    ledger.acknowledge(AudioInputCommitted("item_2"))  # server voice detection committed it all
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
        SessionUpdate(CONFIG),  # the new link opens with this config anyway
        SessionUpdate(SessionConfig(instructions="newer")),
        ResponseCreate(),
    ]
    ledger = ledger_of(*events)
    replay = replay_events([held, ToolResultItem("i3", "call_1", "in the history already")])
    owed = ledger.take(replay, CONFIG)
    assert owed == [events[1], events[2], events[4], events[6], events[7]]
    assert len(ledger) == 0 and ledger.audio_bytes == 0  # the new link starts afresh
    assert ledger.take([], CONFIG) == []
