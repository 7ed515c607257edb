"""Conversation items: what the session remembers of a conversation, provider-neutral.

A conversation is an ordered list of items, each named by an ``id`` that the events about it
carry (``item_id``): the user's turns and the assistant's answers are :class:`MessageItem`, a
tool call and its answer are :class:`ToolCallItem` and :class:`ToolResultItem`. Items are frozen
values; a later event about the same id (a transcript, a truncation) yields a new item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant", "system"]
"""Who a message is from: the person (``user``), the model (``assistant``), or the application
speaking to the model (``system``: instructions given mid-conversation)."""
ItemStatus = Literal["in_progress", "completed", "incomplete"]
"""``in_progress`` while the model is still producing the item, ``completed`` once it is whole,
``incomplete`` when its response was cut off before the end."""


@dataclass(frozen=True, slots=True)
class TextPart:
    """Written content: a typed message, or an answer in the text output modality."""

    text: str
    """The text, as typed or as the model wrote it."""
    kind: Literal["text"] = "text"
    """Tags the part (always ``"text"``)."""


@dataclass(frozen=True, slots=True)
class AudioPart:
    """Spoken content: the audio (PCM in the session's format, when kept) and/or its transcript."""

    transcript: str | None = None
    """The words spoken; ``None`` until (or unless) they are transcribed."""
    audio: bytes | None = None
    """The raw audio, in the session's input format for a user's message (not base64), when the
    item carries it: an item created from recorded audio does, items the model reports and the
    session's history keep the transcript only (``None``)."""
    kind: Literal["audio"] = "audio"
    """Tags the part (always ``"audio"``)."""


ContentPart = TextPart | AudioPart
"""One piece of a message's content."""


@dataclass(frozen=True, slots=True)
class MessageItem:
    """Something said or written by the user, the assistant or the system."""

    id: str | None
    """The item's id, unique within the conversation; ``None`` lets the model assign one."""
    role: Role
    """Who it is from."""
    content: Sequence[ContentPart]
    """Its parts, in order; most messages have exactly one."""
    status: ItemStatus | None = None
    """How far the item has got; ``None`` when the provider does not say."""
    kind: Literal["message"] = "message"
    """Tags the item (always ``"message"``)."""

    @property
    def text(self) -> str:
        """The item's words: text parts and transcripts joined."""
        words = (p.text if isinstance(p, TextPart) else (p.transcript or "") for p in self.content)
        return "".join(words)


@dataclass(frozen=True, slots=True)
class ToolCallItem:
    """The model's request to run a tool, as the conversation remembers it."""

    id: str | None
    """The item's id; ``None`` lets the model assign one."""
    call_id: str
    """The call's id, which its :class:`ToolResultItem` repeats."""
    name: str
    """The name of the tool called."""
    arguments: str
    """The arguments as the JSON text the model wrote."""
    status: ItemStatus | None = None
    """How far the item has got; ``None`` when the provider does not say."""
    kind: Literal["tool_call"] = "tool_call"
    """Tags the item (always ``"tool_call"``)."""


@dataclass(frozen=True, slots=True)
class ToolResultItem:
    """A tool's answer to a call, as the conversation remembers it."""

    id: str | None
    """The item's id; ``None`` lets the model assign one."""
    call_id: str
    """The ``call_id`` of the :class:`ToolCallItem` it answers."""
    output: str
    """What the tool returned, as the text the model reads (usually JSON), or an error text."""
    name: str | None = None
    """The tool's name, when known (the OpenAI wire's result items carry none)."""
    kind: Literal["tool_result"] = "tool_result"
    """Tags the item (always ``"tool_result"``)."""


Item = MessageItem | ToolCallItem | ToolResultItem
"""Any conversation item."""


def user_text(text: str, item_id: str | None = None) -> MessageItem:
    """A typed user message: one text part, with the id ``item_id`` (``None``: the model's)."""
    return MessageItem(item_id, "user", (TextPart(text),))
