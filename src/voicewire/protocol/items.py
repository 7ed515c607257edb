"""Conversation items: what the session remembers of a conversation, provider-neutral."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant", "system"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class AudioPart:
    """Spoken content: the audio (PCM in the session's format, when kept) and/or its transcript."""

    transcript: str | None = None
    audio: bytes | None = None
    kind: Literal["audio"] = "audio"


ContentPart = TextPart | AudioPart


@dataclass(frozen=True, slots=True)
class MessageItem:
    id: str | None
    role: Role
    content: Sequence[ContentPart]
    status: ItemStatus | None = None
    kind: Literal["message"] = "message"

    @property
    def text(self) -> str:
        """The item's words: text parts and transcripts joined."""
        words = (p.text if isinstance(p, TextPart) else (p.transcript or "") for p in self.content)
        return "".join(words)


@dataclass(frozen=True, slots=True)
class ToolCallItem:
    id: str | None
    call_id: str
    name: str
    arguments: str
    status: ItemStatus | None = None
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultItem:
    id: str | None
    call_id: str
    output: str
    name: str | None = None
    kind: Literal["tool_result"] = "tool_result"


Item = MessageItem | ToolCallItem | ToolResultItem


def user_text(text: str, item_id: str | None = None) -> MessageItem:
    return MessageItem(item_id, "user", (TextPart(text),))
