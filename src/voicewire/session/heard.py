"""What the listener heard of an assistant answer cut off at a barge-in.

A truncation is known in milliseconds of audio (``item.truncate``'s ``audio_end_ms``), but the
words of the answer are not timed: its transcript is the whole answer. The words heard are
estimated as the same share of the transcript as the share of the answer's audio that was heard
(heard milliseconds over the milliseconds that had arrived). The session's reconnect replay and
the server's stored conversation both cut answers this way, so a model told the conversation
again and a client resuming it agree on what was said.
"""

from __future__ import annotations

from dataclasses import replace

from ..protocol import AudioPart, Item, MessageItem, TextPart

__all__ = ["as_heard"]


def as_heard(item: Item, heard_ms: int, received_ms: int) -> Item:
    """An assistant message cut at ``heard_ms`` of the ``received_ms`` of its audio that arrived:
    each text or spoken part keeps that share of its words (none when no audio arrived), and the
    message is ``incomplete``. Any other item is returned as it is."""
    if not isinstance(item, MessageItem) or item.role != "assistant":
        return item
    share = min(heard_ms / received_ms, 1.0) if received_ms > 0 else 0.0
    content = tuple(_cut(part, share) for part in item.content)
    return replace(item, content=content, status="incomplete")


def _cut(part: TextPart | AudioPart, share: float) -> TextPart | AudioPart:
    """A text or spoken part keeping the first ``share`` of its words."""
    if isinstance(part, TextPart):
        return replace(part, text=_first_words(part.text, share))
    if part.transcript is not None:
        return replace(part, transcript=_first_words(part.transcript, share))
    return part


def _first_words(text: str, share: float) -> str:
    words = text.split()
    return " ".join(words[: int(len(words) * share)])
