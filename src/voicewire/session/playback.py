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

    The cut is in the current item — the latest one of which an audio frame arrived — where the
    listener actually was (reported by the channel, or by the app through :meth:`report_played`),
    clamped to the audio received. Two things are never cut:

    * an item of which no audio frame has arrived (an empty delta is no frame): truncating what
      was never sent is an error at the provider and would drop the item's text. A new response
      that has sent no audio yet leaves the previous item current;
    * a complete item (its audio or its response is done) that the listener heard to the end:
      a barge-in after a fully heard answer, or before the first frame of the next one, must not
      mark that answer as cut. A complete item still playing (audio arrives faster than it is
      played) is cut where the listener is.
    """

    def __init__(self, output_format: AudioFormat) -> None:
        self._bytes_per_ms = output_format.bytes_per_second / 1000.0
        self._received: dict[str, int] = {}
        self._played: dict[str, int] = {}
        self._complete: set[str] = set()
        self.current_item: str | None = None
        self.current_content_index = 0
        self._current_response: str | None = None

    def set_format(self, output_format: AudioFormat) -> None:
        self._bytes_per_ms = output_format.bytes_per_second / 1000.0

    def received(
        self, item_id: str, n_bytes: int, content_index: int = 0, response_id: str | None = None
    ) -> None:
        if not n_bytes:
            return  # no frame: the item has not begun for the listener
        self._received[item_id] = self._received.get(item_id, 0) + n_bytes
        self.current_item = item_id
        self.current_content_index = content_index
        self._current_response = response_id

    def received_ms(self, item_id: str) -> int:
        return int(self._received.get(item_id, 0) / self._bytes_per_ms)

    def item_done(self, item_id: str) -> None:
        """No more audio will come for ``item_id``."""
        self._complete.add(item_id)

    def response_done(self, response_id: str | None) -> None:
        """The response is over: its item, if it is the current one, is complete."""
        current = self.current_item
        if current is not None and response_id in (None, self._current_response):
            self._complete.add(current)

    def report_played(self, item_id: str, audio_end_ms: int) -> None:
        """For apps that play audio themselves: how far into ``item_id`` the listener is."""
        self._played[item_id] = max(0, int(audio_end_ms))

    def truncate_point(self, channel_position: PlaybackPosition | None) -> TruncatePoint | None:
        item = self.current_item
        if item is None:
            return None
        sent = self.received_ms(item)
        playing = channel_position.item_id if channel_position is not None else None
        if channel_position is not None and playing == item:
            heard = channel_position.audio_end_ms
        elif playing in self._received:
            heard = 0  # the channel, playing in order, is still on an earlier item
        elif item in self._played:
            heard = self._played[item]
        else:
            heard = sent  # no one reports playback: assume what arrived was heard
        heard = min(max(heard, 0), sent)
        if item in self._complete and heard >= sent:
            return None  # heard to the end: nothing to cut
        return TruncatePoint(item, heard, self.current_content_index)

    def still_playing(self, channel_position: PlaybackPosition | None) -> bool:
        """Whether the listener has not yet heard all of the current item."""
        point = self.truncate_point(channel_position)
        return point is not None and point.audio_end_ms < self.received_ms(point.item_id)

    def finish(self) -> None:
        """The current item is over (interrupted and truncated): nothing more to cut."""
        self.current_item = None
