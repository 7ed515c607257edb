"""When the link to the model drops: how to try again, and what the new link is told first.

A new provider session knows nothing of the old one, so the session replays the conversation it
has seen (:func:`replay_events`) before anything said meanwhile. Spoken turns are replayed as
their transcripts: the provider gets the words, not the audio again. A turn the model committed
but had not transcribed when the link died has no words to replay; the ledger of what was never
acknowledged (:mod:`voicewire.session.unacked`) sends its audio again instead.

An assistant answer cut off at a barge-in is replayed as the user heard it, not as the model
wrote it: the old provider's history was cut by ``item.truncate``, and the new one must not
hold words the user never heard (the model would believe it had said them). The history keeps
the whole transcript and where the listener stopped (``truncated_at``, with the audio that had
arrived then); the words replayed are the same share of the transcript
(:func:`voicewire.session.heard.as_heard`, the estimate the server's stored conversation makes
too), and an answer cut before any of it was heard is not replayed at all.

The replay is idempotent: each item goes to the new link under the id it already has (OpenAI's
``conversation.item.create`` takes a client-given ``item.id``), so the provider's answer names an
item the history already holds and the history does not grow. However often the link drops, the
model sees the conversation once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..protocol import (
    ClientEvent,
    ConfigurationError,
    Item,
    ItemCreate,
    MessageItem,
    TextPart,
    ToolCallItem,
)
from .heard import as_heard

__all__ = ["ReconnectPolicy", "replay_events"]


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Reconnect with exponential backoff: wait ``initial_delay``, then twice as long after each
    failed attempt (at most ``max_delay``), for up to ``attempts`` attempts. ``attempts=0``
    turns reconnecting off: a dropped link leaves the session ``disconnected``."""

    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ConfigurationError(f"ReconnectPolicy.attempts must be >= 0, got {self.attempts}")
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ConfigurationError(
                "ReconnectPolicy needs 0 <= initial_delay <= max_delay, got "
                f"{self.initial_delay} and {self.max_delay}"
            )

    def delays(self) -> Iterator[float]:
        """The wait before each attempt."""
        delay = self.initial_delay
        for _ in range(self.attempts):
            yield delay
            delay = min(delay * 2, self.max_delay)


def replay_events(
    items: Iterable[Item],
    truncated_at: Mapping[str, int] | None = None,
    received_ms: Mapping[str, int] | None = None,
) -> list[ClientEvent]:
    """``item.create`` events that rebuild ``items`` in a new provider session, in order.

    Messages keep their text; spoken parts become their transcripts (a transcript that repeats
    the message's text is given once; parts without words are dropped, and so are messages left
    empty); tool calls and their results are kept as they are. An assistant message cut off
    (``truncated_at``: item id -> the milliseconds the listener heard; ``received_ms``: item id
    -> the milliseconds of its audio that had arrived) keeps only the share of its words that
    was heard. Every item keeps its id and names the item replayed before it as
    ``previous_item_id``, so the new session holds them in this order under the same ids, and
    its echoes of them update the history instead of adding to it.
    """
    cuts = truncated_at or {}
    received = received_ms or {}
    events: list[ClientEvent] = []
    previous: str | None = None
    for item in items:
        heard = cuts.get(item.id) if item.id is not None else None
        if heard is not None:
            item = as_heard(item, heard, received.get(item.id or "", 0))
        replayed = _replayable(item)
        if replayed is None:
            continue
        events.append(ItemCreate(replayed, previous))
        previous = replayed.id
    return events


def _replayable(item: Item) -> Item | None:
    """``item`` as a new session can take it, or ``None`` when nothing of it can be said again."""
    if isinstance(item, MessageItem):
        words: list[str] = []
        for part in item.content:
            text = part.text if isinstance(part, TextPart) else part.transcript
            if text and text not in words:
                words.append(text)
        if not words:
            return None
        return MessageItem(item.id, item.role, tuple(TextPart(w) for w in words), "completed")
    if isinstance(item, ToolCallItem):
        return ToolCallItem(item.id, item.call_id, item.name, item.arguments, "completed")
    return item  # a tool result, as it was
