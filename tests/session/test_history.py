"""The session's conversation history on the shared ordered store: its API and rules."""

from __future__ import annotations

from voicewire.protocol import AudioPart, ItemCreate, MessageItem, TextPart, ToolCallItem
from voicewire.session import replay_events
from voicewire.session.history import ConversationHistory


def _ids(history: ConversationHistory) -> list[str | None]:
    return [item.id for item in history.items]


def test_items_go_after_their_previous_item_or_at_the_end() -> None:
    history = ConversationHistory()
    history.upsert(MessageItem("a", "user", (TextPart("one"),)))
    history.upsert(MessageItem("c", "assistant", (TextPart("three"),)))
    history.upsert(MessageItem("b", "user", (TextPart("two"),)), previous_item_id="a")
    history.upsert(MessageItem("d", "user", (TextPart("four"),)), previous_item_id="unknown")
    assert _ids(history) == ["a", "b", "c", "d"]
    assert len(history) == 4
    history.delete("b")
    history.delete("b")  # deleting what is not held does nothing
    assert _ids(history) == ["a", "c", "d"]
    assert history.get("b") is None


def test_a_later_announcement_updates_in_place_and_keeps_known_words() -> None:
    history = ConversationHistory()
    history.upsert(MessageItem("a", "user", (TextPart("hi"),)))
    history.upsert(ToolCallItem("t", "call_1", "f", "", "in_progress"))
    history.upsert(MessageItem("a", "user", (), "completed"), previous_item_id="t")
    history.upsert(ToolCallItem("t", "call_1", "f", "{}", "completed"))
    assert _ids(history) == ["a", "t"]
    first = history.get("a")
    assert isinstance(first, MessageItem) and first.text == "hi"
    assert isinstance(history.get("t"), ToolCallItem)
    assert history.get("t").arguments == "{}"  # type: ignore[union-attr]


def test_anonymous_items_get_local_ids() -> None:
    history = ConversationHistory()
    history.upsert(MessageItem(None, "user", (TextPart("a"),)))
    history.upsert(MessageItem(None, "user", (TextPart("b"),)))
    assert _ids(history) == ["local_1", "local_2"]


def test_transcripts_and_text_fill_items_or_create_them() -> None:
    history = ConversationHistory()
    history.upsert(MessageItem("u", "user", (AudioPart(),)))
    history.set_transcript("u", "user", "hello")
    history.set_transcript("s", "assistant", "hi there")
    history.set_text("w", "written")
    history.set_text(None, "ignored")
    history.set_transcript(None, "user", "ignored")
    assert _ids(history) == ["u", "s", "w"]
    assert [item.text for item in history.items] == ["hello", "hi there", "written"]  # type: ignore[union-attr]
    history.truncate("s", 120)
    assert history.truncated_at == {"s": 120}


def test_a_deleted_item_leaves_no_cut_behind_and_its_id_comes_back_whole() -> None:
    history = ConversationHistory()
    for n in range(100):  # a long session that cuts answers off and deletes them
        history.upsert(MessageItem(f"a{n}", "assistant", (AudioPart(transcript="one two"),)))
        history.truncate(f"a{n}", 100, 1000)
        history.delete(f"a{n}")
    assert history.truncated_at == {} and history.received_at_cut == {}
    history.upsert(MessageItem("x", "assistant", (AudioPart(transcript="one two three four"),)))
    history.truncate("x", 500, 1000)
    history.delete("x")
    # The id is used again (a client may name its items): a new answer, never cut.
    history.upsert(MessageItem("x", "assistant", (AudioPart(transcript="hi"),)))
    history.upsert(MessageItem("x", "assistant", (AudioPart(transcript="hello there"),)))
    (event,) = replay_events(history.items, history.truncated_at, history.received_at_cut)
    assert isinstance(event, ItemCreate) and isinstance(event.item, MessageItem)
    assert event.item.text == "hello there"
