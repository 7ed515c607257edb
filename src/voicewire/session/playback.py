"""What the assistant has said and what the listener has heard: the basis of truncation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..protocol import AudioFormat, PlaybackPosition

KEPT_ITEMS = 16
"""Items the tracker remembers. A channel plays items in order and is at most a few items behind
the model (an answer still playing while the next one, after a tool call, arrives), so an item
this many items back can no longer be playing nor be cut."""


TruncatePoint: TypeAlias = PlaybackPosition
"""Where to cut an item: the point the listener heard, so a :class:`PlaybackPosition` (this name
is kept for code that imported it from ``voicewire.session``)."""


@dataclass(slots=True)
class _Item:
    """One assistant item as far as playback goes."""

    received_bytes: int = 0
    content_index: int = 0
    response_id: str | None = None
    played_ms: int | None = None
    """Where the app reported the listener was (:meth:`PlaybackTracker.report_played`)."""
    complete: bool = False
    """No more audio will come (its audio or its response is done)."""
    cut: bool = False
    """Truncated at an interruption: the channel dropped the rest, so it is never cut again."""


class PlaybackTracker:
    """Counts the audio received per assistant item and answers "where do we cut?".

    The cut is in the current item — the latest one of which an audio frame arrived — where the
    listener actually was (reported by the channel, or by the app through :meth:`report_played`),
    clamped to the audio received. When the channel, which plays in order, is still on an earlier
    item, that item is cut where the listener is and every item queued behind it at 0: none of
    them was heard. Three things are never cut:

    * an item of which no audio frame has arrived (an empty delta is no frame): truncating what
      was never sent is an error at the provider and would drop the item's text. A new response
      that has sent no audio yet leaves the previous item current;
    * a complete item (its audio or its response is done) that the listener heard to the end:
      a barge-in after a fully heard answer, or before the first frame of the next one, must not
      mark that answer as cut. A complete item still playing (audio arrives faster than it is
      played) is cut where the listener is;
    * an item already cut: the channel dropped the rest of it, and may go on naming it as the
      item played last.

    Only the last :data:`KEPT_ITEMS` items are remembered.
    """

    def __init__(self, output_format: AudioFormat) -> None:
        self._bytes_per_ms = output_format.bytes_per_second / 1000.0
        self._items: dict[str, _Item] = {}
        """In the order their first audio frame arrived (items without audio yet at the end)."""
        self.current_item: str | None = None

    @property
    def current_content_index(self) -> int:
        current = self._items.get(self.current_item) if self.current_item is not None else None
        return current.content_index if current is not None else 0

    def set_format(self, output_format: AudioFormat) -> None:
        self._bytes_per_ms = output_format.bytes_per_second / 1000.0

    def received(
        self, item_id: str, n_bytes: int, content_index: int = 0, response_id: str | None = None
    ) -> None:
        if not n_bytes:
            return  # no frame: the item has not begun for the listener
        item = self._items.get(item_id)
        if item is None or not item.received_bytes:  # its first frame: the latest item
            item = self._items.pop(item_id, None) or _Item()
            self._items[item_id] = item
            self.current_item = item_id
            self._forget_old()
        item.received_bytes += n_bytes
        item.content_index = content_index
        item.response_id = response_id
        self.current_item = item_id

    def received_ms(self, item_id: str) -> int:
        item = self._items.get(item_id)
        return int(item.received_bytes / self._bytes_per_ms) if item is not None else 0

    def item_done(self, item_id: str) -> None:
        """No more audio will come for ``item_id``."""
        self._item(item_id).complete = True

    def response_done(self, response_id: str | None) -> None:
        """The response is over: its item, if it is the current one, is complete."""
        current = self._items.get(self.current_item) if self.current_item is not None else None
        if current is not None and response_id in (None, current.response_id):
            current.complete = True

    def report_played(self, item_id: str, audio_end_ms: int) -> None:
        """For apps that play audio themselves: how far into ``item_id`` the listener is."""
        self._item(item_id).played_ms = max(0, int(audio_end_ms))

    def truncate_points(self, channel_position: PlaybackPosition | None) -> list[PlaybackPosition]:
        """Where to cut now, the item the listener was hearing first; empty: nothing to cut."""
        current = self.current_item
        if current is None:
            return []
        playing = channel_position.item_id if channel_position is not None else None
        if channel_position is not None and playing != current and self._has_audio(playing):
            # The channel is still on an earlier item: cut it where the listener is, and what
            # is queued behind it (the current item included) before its first frame.
            ids = list(self._items)
            behind = ids[ids.index(channel_position.item_id) + 1 :]
            points = [self._point(channel_position.item_id, channel_position.audio_end_ms)]
            points += [self._point(i, 0) for i in behind if self._has_audio(i)]
            return [p for p in points if p is not None]
        item = self._items[current]
        if channel_position is not None and playing == current:
            heard = channel_position.audio_end_ms
        elif item.played_ms is not None:
            heard = item.played_ms
        else:
            heard = self.received_ms(current)  # no one reports playback: all that came was heard
        point = self._point(current, heard)
        return [point] if point is not None else []

    def truncate_point(self, channel_position: PlaybackPosition | None) -> PlaybackPosition | None:
        """The cut in the item the listener was hearing (see :meth:`truncate_points`)."""
        points = self.truncate_points(channel_position)
        return points[0] if points else None

    def still_playing(self, channel_position: PlaybackPosition | None) -> bool:
        """Whether the listener has not yet heard all the audio received."""
        return any(
            p.audio_end_ms < self.received_ms(p.item_id)
            for p in self.truncate_points(channel_position)
        )

    def finish(self, points: list[PlaybackPosition] | None = None) -> None:
        """The items of ``points`` (default: the current one) were cut, the channel's playback
        stopped: nothing more to cut until new audio arrives."""
        cut = [p.item_id for p in points] if points is not None else [self.current_item]
        for item_id in cut:
            if item_id in self._items:
                self._items[item_id].cut = True
        self.current_item = None

    def _point(self, item_id: str, heard_ms: int) -> PlaybackPosition | None:
        item = self._items[item_id]
        sent = self.received_ms(item_id)
        heard = min(max(heard_ms, 0), sent)
        if item.cut or (item.complete and heard >= sent):
            return None  # already cut, or heard to the end: nothing to cut
        return PlaybackPosition(item_id, heard, item.content_index)

    def _has_audio(self, item_id: str | None) -> bool:
        item = self._items.get(item_id) if item_id is not None else None
        return item is not None and item.received_bytes > 0

    def _item(self, item_id: str) -> _Item:
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = _Item()
            self._forget_old()
        return item

    def _forget_old(self) -> None:
        """The oldest items go first; the current one stays."""
        old = (i for i in list(self._items) if i != self.current_item)
        while len(self._items) > KEPT_ITEMS:
            del self._items[next(old)]
