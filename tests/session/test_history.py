"""The session's conversation history on the shared ordered store: its API and rules."""

from __future__ import annotations

from voicewire.protocol import AudioPart, MessageItem, TextPart, ToolCallItem
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
