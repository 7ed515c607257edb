"""The replay after a reconnect tells the new link an answer cut off at a barge-in as heard."""

from __future__ import annotations

from voicewire.protocol import AudioPart, ItemCreate, MessageItem, TextPart
from voicewire.session import replay_events
from voicewire.session.heard import as_heard

TEN = "one two three four five six seven eight nine ten"


def test_an_answer_cut_off_is_replayed_as_far_as_it_was_heard() -> None:
    items = [
        MessageItem("u1", "user", (TextPart("count to ten"),)),
        MessageItem("a1", "assistant", (AudioPart(transcript=TEN),), "incomplete"),
        MessageItem("u2", "user", (AudioPart(transcript="stop"),)),
        MessageItem("a2", "assistant", (AudioPart(transcript="Sure, I stopped."),)),
    ]
    # The listener heard 300 of the 1000 ms that arrived of a1; a2 was not cut.
    events = replay_events(items, {"a1": 300}, {"a1": 1000})
    replayed = [(e.item, e.previous_item_id) for e in events if isinstance(e, ItemCreate)]
    assert replayed == [
        (MessageItem("u1", "user", (TextPart("count to ten"),), "completed"), None),
        (MessageItem("a1", "assistant", (TextPart("one two three"),), "completed"), "u1"),
        (MessageItem("u2", "user", (TextPart("stop"),), "completed"), "a1"),
        (MessageItem("a2", "assistant", (TextPart("Sure, I stopped."),), "completed"), "u2"),
    ]


def test_an_answer_cut_before_it_was_heard_is_not_replayed_and_the_chain_skips_it() -> None:
    items = [
        MessageItem("u1", "user", (TextPart("hello"),)),
        MessageItem("a1", "assistant", (TextPart(TEN), AudioPart(transcript=TEN))),
        MessageItem("u2", "user", (TextPart("wait"),)),
    ]
    events = replay_events(items, {"a1": 0}, {"a1": 800})
    chain = [(e.item.id, e.previous_item_id) for e in events if isinstance(e, ItemCreate)]
    assert chain == [("u1", None), ("u2", "u1")]


def test_a_cut_at_or_past_the_audio_that_arrived_keeps_every_word() -> None:
    answer = MessageItem("a1", "assistant", (AudioPart(transcript=TEN),))
    (event,) = replay_events([answer], {"a1": 1200}, {"a1": 1000})
    assert isinstance(event, ItemCreate) and event.item.text == TEN  # type: ignore[union-attr]


def test_the_heard_share_cuts_text_and_transcript_alike_and_leaves_users_alone() -> None:
    answer = MessageItem("a1", "assistant", (TextPart(TEN), AudioPart(transcript=TEN)))
    heard = as_heard(answer, 500, 1000)
    assert heard == MessageItem(
        "a1",
        "assistant",
        (TextPart("one two three four five"), AudioPart(transcript="one two three four five")),
        "incomplete",
    )
    user = MessageItem("u1", "user", (TextPart(TEN),))
    assert as_heard(user, 100, 1000) is user
