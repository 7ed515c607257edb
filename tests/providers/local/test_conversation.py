"""The local model's conversation: its items in order, what an interrupted answer is remembered
to have said, and the chat the language model sees."""

from __future__ import annotations

from dataclasses import replace

import pytest

from voicewire.protocol import AudioPart, MessageItem, TextPart, ToolCallItem, ToolResultItem
from voicewire.providers.local import heard_text
from voicewire.providers.local.conversation import LocalConversation, window_start


def test_heard_text_keeps_whole_clauses_and_the_played_share_of_the_cut_one() -> None:
    segments = [("Hello there.", 0.0, 1000.0), ("One two three four.", 1000.0, 2000.0)]
    assert heard_text(segments, 5000) == "Hello there. One two three four."
    assert heard_text(segments, 1500) == "Hello there. One two"
    assert heard_text(segments, 999) == "Hello"
    assert heard_text(segments, 400) == ""
    assert heard_text(segments, 0) == ""


def test_items_go_after_the_item_named_or_at_the_end_and_each_edit_bumps_the_version() -> None:
    conversation = LocalConversation()
    first = MessageItem("a", "user", (TextPart("one"),))
    assert conversation.add(first) is None
    assert conversation.add(MessageItem("c", "user", (TextPart("three"),))) == "a"
    assert conversation.add(MessageItem("b", "user", (TextPart("two"),)), "a") == "a"
    assert conversation.add(MessageItem("d", "user", (TextPart("four"),)), "nope") == "c"
    assert [item.id for item in conversation.history] == ["a", "b", "c", "d"]
    conversation.add(replace(first, content=(TextPart("uno"),)))  # replaced in place
    conversation.delete("c")
    assert [item.id for item in conversation.history] == ["a", "b", "d"]
    assert conversation.version == 6


def test_a_held_item_is_replaced_where_it_is_whatever_it_is_said_to_follow() -> None:
    conversation = LocalConversation()
    for item_id in ("a", "b", "c"):
        conversation.append(MessageItem(item_id, "user", (TextPart(item_id),)))
    assert conversation.add(MessageItem("a", "user", (TextPart("again"),)), "c") == "c"
    assert [item.text for item in conversation.history] == ["again", "b", "c"]
    conversation.delete("missing")  # nothing held: no edit
    assert conversation.version == 4
    with pytest.raises(KeyError):
        conversation.append(MessageItem("b", "user", (TextPart("twice"),)))  # ids are held once
    assert [item.id for item in conversation.history] == ["a", "b", "c"]


def test_only_an_assistant_audio_item_can_be_cut_to_what_was_heard() -> None:
    conversation = LocalConversation()
    conversation.add(MessageItem("u", "user", (AudioPart(transcript="Tell me"),)))
    said = MessageItem("s", "assistant", (AudioPart(transcript="Hello there. One two"),))
    conversation.put_assistant(said, [("Hello there.", 0.0, 1000.0), ("One two", 1000.0, 2000.0)])
    assert not conversation.truncate("u", 500)
    assert not conversation.truncate("missing", 500)
    assert conversation.truncate("s", 1000)
    assert conversation.history[-1].text == "Hello there."
    conversation.add(ToolCallItem("s", "c1", "get_weather", "{}"))  # replaced: no audio now
    assert not conversation.truncate("s", 1000)


def test_the_chat_is_the_latest_items_without_a_leading_tool_result() -> None:
    conversation = LocalConversation()
    conversation.add(MessageItem("u1", "user", (TextPart("weather?"),)))
    conversation.append(ToolCallItem("t1", "c1", "get_weather", "{}"))
    conversation.append(ToolResultItem("r1", "c1", "sunny", "get_weather"))
    assert conversation.has_new_content()
    assert [m.role for m in conversation.chat(3)] == ["user", "assistant", "tool"]
    assert conversation.chat(1) == []  # a tool result alone is no chat
    conversation.put_assistant(MessageItem("s", "assistant", (TextPart("Sunny."),)), [])
    assert not conversation.has_new_content()
    assert [m.content for m in conversation.chat(2)] == ["Sunny."]
    assert [m.content for m in conversation.chat(4)] == ["weather?", "", "sunny", "Sunny."]


def test_the_chat_window_moves_in_steps_of_half_so_its_start_stays_put_between_them() -> None:
    conversation = LocalConversation()
    firsts: list[str] = []
    for n in range(1, 50):
        conversation.add(MessageItem(f"m{n}", "user", (TextPart(f"message {n}"),)))
        chat = conversation.chat(24)
        assert len(chat) == n - window_start(n, 24)
        assert len(chat) == n if n <= 24 else 12 < len(chat) <= 24
        firsts.append(chat[0].content)
    # One start up to 24 items, then a new one only at the 25th, the 37th and the 49th.
    assert [n + 1 for n in range(1, len(firsts)) if firsts[n] != firsts[n - 1]] == [25, 37, 49]
    assert firsts[24] == "message 13" and firsts[36] == "message 25"
    assert [window_start(n, 1) for n in range(4)] == [0, 0, 1, 2]  # a small window still slides
    assert [window_start(n, 3) for n in range(6)] == [0, 0, 0, 0, 1, 2]
