"""When the link to the model drops: how to try again, and what the new link is told first.

A new provider session knows nothing of the old one, so the session replays the conversation it
has seen (:func:`replay_events`) before anything said meanwhile. Spoken turns are replayed as
their transcripts: the provider gets the words, not the audio again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..protocol import (
    AudioPart,
    ClientEvent,
    ConfigurationError,
    Item,
    ItemCreate,
    MessageItem,
    TextPart,
    ToolCallItem,
    ToolResultItem,
)

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


def replay_events(items: Iterable[Item]) -> list[ClientEvent]:
    """``item.create`` events that rebuild ``items`` in a new provider session, in order.

    Messages keep their text; spoken parts become their transcripts (parts without one are
    dropped, and so are messages left empty); tool calls and their results are kept as they are.
    Items go in without ids: the new session names them itself.
    """
    events: list[ClientEvent] = []
    for item in items:
        if isinstance(item, MessageItem):
            parts: list[TextPart] = []
            for part in item.content:
                if isinstance(part, TextPart) and part.text:
                    parts.append(part)
                elif isinstance(part, AudioPart) and part.transcript:
                    parts.append(TextPart(part.transcript))
            if parts:
                events.append(ItemCreate(MessageItem(None, item.role, tuple(parts), "completed")))
        elif isinstance(item, ToolCallItem | ToolResultItem):
            events.append(ItemCreate(_without_id(item)))
    return events


def _without_id(item: ToolCallItem | ToolResultItem) -> Item:
    if isinstance(item, ToolCallItem):
        return ToolCallItem(None, item.call_id, item.name, item.arguments, "completed")
    return ToolResultItem(None, item.call_id, item.output, item.name)
