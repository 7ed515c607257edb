"""The local model's conversation: its items in order, what each assistant clause took to say,
and the chat the language model is shown."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from ...protocol import AudioPart, Item, MessageItem, TextPart, ToolCallItem, ToolResultItem
from ...protocol.conversation import OrderedItems
from .llm import ChatMessage, ToolCallRequest

Spoken = list[tuple[str, float, float]]
"""(clause, start ms, end ms) of an assistant item's audio."""


class LocalConversation:
    """The ordered items the model will see next; ``version`` changes with every edit, so a
    response prepared for one version can tell it is stale.

    The items are held in the :class:`~voicewire.protocol.conversation.OrderedItems` store that
    the session's history and the scripted model keep too; what is local is the version, the
    clauses each assistant item took to say (for truncation), and the chat window.
    """

    def __init__(self) -> None:
        self._items: OrderedItems[Item] = OrderedItems()
        self._spoken: dict[str, Spoken] = {}
        self.version = 0

    @property
    def history(self) -> list[Item]:
        return self._items.values()

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def last_id(self) -> str | None:
        return self._items.last_id()

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert (or replace) ``item`` after ``previous_item_id``, else at the end; returns the
        id of the item it now follows, for ``item.created``."""
        assert item.id is not None
        previous = previous_item_id if previous_item_id in self._items else self.last_id()
        if item.id in self._items:
            self._items.replace(item.id, item)
        else:
            self._items.insert_after(item.id, item, previous_item_id)
        self.version += 1
        return previous

    def append(self, item: Item) -> None:
        """Add a new item (its id not held) at the end."""
        assert item.id is not None
        self._items.append(item.id, item)
        self.version += 1

    def put_assistant(self, item: MessageItem, spoken: Spoken) -> None:
        """Record what an assistant message said (at the end, or in its place if it is there)."""
        assert item.id is not None
        if item.id in self._items:
            self._items.replace(item.id, item)
        else:
            self._items.append(item.id, item)
        if spoken:
            self._spoken[item.id] = spoken
        self.version += 1

    def delete(self, item_id: str) -> None:
        if self._items.delete(item_id) is not None:
            self.version += 1

    def set_text(self, item_id: str, text: str) -> None:
        item = self._items.get(item_id)
        if isinstance(item, MessageItem):
            if any(isinstance(p, AudioPart) for p in item.content):
                self._items.replace(item_id, replace(item, content=(AudioPart(transcript=text),)))
            else:
                self._items.replace(item_id, replace(item, content=(TextPart(text),)))
            self.version += 1

    def truncate(self, item_id: str, audio_end_ms: int) -> bool:
        """Keep the words of assistant audio item ``item_id`` heard up to ``audio_end_ms``;
        ``False`` if there is no such item."""
        segments = self._spoken.get(item_id)
        item = self._items.get(item_id)
        if segments is None or not isinstance(item, MessageItem):
            return False
        self.set_text(item_id, heard_text(segments, audio_end_ms))
        return True

    def has_new_content(self) -> bool:
        """The latest message is the user's and says something, or a tool result came since."""
        for item in reversed(self._items.values()):
            if isinstance(item, ToolResultItem):
                return True
            if isinstance(item, MessageItem):
                return item.role == "user" and bool(item.text.strip())
        return False

    def chat(self, limit: int) -> list[ChatMessage]:
        """The chat the language model sees: at most the latest ``limit`` items, from a start
        that moves in steps of half of ``limit`` (see :func:`window_start`)."""
        items = self._items.values()
        messages: list[ChatMessage] = []
        for item in items[window_start(len(items), limit) :]:
            if isinstance(item, MessageItem):
                text = item.text.strip()
                if text:
                    messages.append(ChatMessage(item.role, text))
            elif isinstance(item, ToolCallItem):
                call = ToolCallRequest(item.name, item.arguments, item.call_id)
                messages.append(ChatMessage("assistant", "", tool_call=call))
            else:
                messages.append(
                    ChatMessage("tool", item.output, tool_call_id=item.call_id, name=item.name)
                )
        while messages and messages[0].role == "tool":
            messages.pop(0)
        return messages


def window_start(count: int, limit: int) -> int:
    """Where the chat window over ``count`` items, at most ``limit`` long, starts.

    llama.cpp reuses the cached prompt only up to its first changed token. A window that slid by
    one item each turn would change the prompt right after the instructions, and every turn past
    ``limit`` items would evaluate the whole history again: SmolLM2's first token went from
    0.08 s to 1.6 s from the 13th exchange on. So the start moves only in steps of half the
    window (at least one item), and the history is evaluated again once per step.
    """
    if count <= limit:
        return 0
    step = max(1, limit // 2)
    return -(-(count - limit) // step) * step


def heard_text(segments: Sequence[tuple[str, float, float]], audio_end_ms: float) -> str:
    """The words of ``segments`` (clause, start ms, end ms) heard up to ``audio_end_ms``; a clause
    cut in the middle keeps the share of its words that was played."""
    words: list[str] = []
    for clause, start, end in segments:
        if audio_end_ms >= end:
            words.append(clause)
            continue
        if audio_end_ms > start and end > start:
            parts = clause.split()
            keep = int(len(parts) * (audio_end_ms - start) / (end - start))
            if keep:
                words.append(" ".join(parts[:keep]))
        break
    return re.sub(r"\s+", " ", " ".join(words)).strip()
