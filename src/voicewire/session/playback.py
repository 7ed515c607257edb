"""What the assistant has said and what the listener has heard: the basis of truncation."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import AudioFormat, PlaybackPosition


@dataclass(frozen=True, slots=True)
class TruncatePoint:
    item_id: str
    audio_end_ms: int
    content_index: int = 0


class PlaybackTracker:
    """Counts the audio received per assistant item and answers "where do we cut?".

    The cut is where the listener actually was (reported by the channel, or by the app through
    :meth:`report_played`), clamped to the audio received, and there is no cut at all for an item
    of which no audio frame has arrived: truncating what was never sent is an error at the
    provider and would drop the item's text.
    """

    def __init__(self, output_format: AudioFormat) -> None:
        self._bytes_per_ms = output_format.bytes_per_second / 1000.0
        self._received: dict[str, int] = {}
        self._played: dict[str, int] = {}
        self.current_item: str | None = None
        self.current_content_index = 0

    def set_format(self, output_format: AudioFormat) -> None:
        self._bytes_per_ms = output_format.bytes_per_second / 1000.0

    def received(self, item_id: str, n_bytes: int, content_index: int = 0) -> None:
        self._received[item_id] = self._received.get(item_id, 0) + n_bytes
        self.current_item = item_id
        self.current_content_index = content_index

    def received_ms(self, item_id: str) -> int:
        return int(self._received.get(item_id, 0) / self._bytes_per_ms)

    def report_played(self, item_id: str, audio_end_ms: int) -> None:
        """For apps that play audio themselves: how far into ``item_id`` the listener is."""
        self._played[item_id] = max(0, int(audio_end_ms))

    def truncate_point(self, channel_position: PlaybackPosition | None) -> TruncatePoint | None:
        item = self.current_item
        if item is None or self._received.get(item, 0) == 0:
            return None
        sent = self.received_ms(item)
        if channel_position is not None and channel_position.item_id == item:
            heard = channel_position.audio_end_ms
        elif item in self._played:
            heard = self._played[item]
        else:
            heard = sent  # no one reports playback: assume what arrived was heard
        return TruncatePoint(item, min(max(heard, 0), sent), self.current_content_index)

    def still_playing(self, channel_position: PlaybackPosition | None) -> bool:
        """Whether the listener has not yet heard all of the current item."""
        point = self.truncate_point(channel_position)
        return point is not None and point.audio_end_ms < self.received_ms(point.item_id)

    def finish(self) -> None:
        """The current item is over (interrupted and truncated): nothing more to cut."""
        self.current_item = None
