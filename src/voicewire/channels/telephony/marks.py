"""What a caller has heard, from the marks a telephony provider echoes.

The channel sends a named mark after a stretch of audio; the provider echoes the name once the
caller has heard the audio before it. Twilio calls them marks; other providers have the same
thing under other names. :class:`MarkTracker` keeps the marks sent and not yet echoed and, per
item, how far it has been heard. No I/O: the channel feeds it names.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarkTracker", "PlaybackMark"]


@dataclass(frozen=True, slots=True)
class PlaybackMark:
    """A mark the channel sent: once the provider echoes ``name``, the caller has heard
    ``audio_end_ms`` of the item's content part."""

    name: str
    item_id: str
    content_index: int
    audio_end_ms: int


class MarkTracker:
    """Bookkeeping of marks: sent and not yet echoed, and how far each item has been heard.

    The provider plays the stream in order and echoes marks in the order they were sent, so
    echoing a mark also settles every mark sent before it. A name that is not pending (never sent,
    already settled, or forgotten by :meth:`forget_pending`) is ignored: after a ``clear`` Twilio
    echoes every mark that was still queued, although that audio was thrown away, not heard.
    """

    def __init__(self) -> None:
        self._pending: dict[str, PlaybackMark] = {}
        self._heard: dict[tuple[str, int], int] = {}
        self._seq = 0
        self.acknowledged = 0
        """Marks settled by an echo so far."""

    def new(self, item_id: str, content_index: int, audio_end_ms: int) -> PlaybackMark:
        """Register the mark that follows ``audio_end_ms`` of the item's audio."""
        self._seq += 1
        name = f"vw{self._seq}:{item_id}:{content_index}:{audio_end_ms}"
        mark = PlaybackMark(name, item_id, content_index, audio_end_ms)
        self._pending[name] = mark
        return mark

    def acknowledge(self, name: str) -> PlaybackMark | None:
        """The provider echoed ``name``: returns its mark, or ``None`` if it was not pending."""
        mark = self._pending.get(name)
        if mark is None:
            return None
        while self._pending:  # this mark and every one sent before it
            earlier_name = next(iter(self._pending))
            earlier = self._pending.pop(earlier_name)
            self._settle(earlier)
            if earlier_name == name:
                break
        return mark

    def _settle(self, mark: PlaybackMark) -> None:
        key = (mark.item_id, mark.content_index)
        self._heard[key] = max(self._heard.get(key, 0), mark.audio_end_ms)
        self.acknowledged += 1

    def forget_pending(self) -> int:
        """Drop every pending mark (their audio was cleared); returns how many."""
        count = len(self._pending)
        self._pending.clear()
        return count

    def heard_ms(self, item_id: str, content_index: int = 0) -> int:
        """Audio of the item acknowledged as heard, in ms (0 before its first echoed mark)."""
        return self._heard.get((item_id, content_index), 0)

    @property
    def pending(self) -> tuple[PlaybackMark, ...]:
        """Marks sent (or queued) and not yet echoed, oldest first."""
        return tuple(self._pending.values())
