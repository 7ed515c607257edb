"""The playback tracker remembers only the items that can still be cut, however long the
session, and never forgets the current one."""

from __future__ import annotations

from voicewire.protocol import AudioFormat, PlaybackPosition
from voicewire.session import PlaybackTracker, TruncatePoint
from voicewire.session.playback import KEPT_ITEMS

FORMAT = AudioFormat()  # pcm16 24 kHz mono: 48 bytes a millisecond
MS = FORMAT.bytes_per_second // 1000


def answer(tracker: PlaybackTracker, item_id: str, ms: int = 100) -> None:
    tracker.received(item_id, ms * MS, response_id=f"resp_{item_id}")
    tracker.item_done(item_id)
    tracker.response_done(f"resp_{item_id}")


def test_a_long_session_keeps_only_the_last_items() -> None:
    tracker = PlaybackTracker(FORMAT)
    for n in range(KEPT_ITEMS * 10):
        answer(tracker, f"item_{n}")
        tracker.report_played(f"item_{n}", 100)
    last = f"item_{KEPT_ITEMS * 10 - 1}"
    assert tracker.received_ms("item_0") == 0  # forgotten
    assert tracker.received_ms(last) == 100
    assert len(tracker._items) == KEPT_ITEMS


def test_reports_about_items_without_audio_never_push_out_the_current_one() -> None:
    tracker = PlaybackTracker(FORMAT)
    tracker.received("item_a", 300 * MS)
    for n in range(KEPT_ITEMS * 2):
        tracker.report_played(f"other_{n}", 10)
        tracker.item_done(f"other_{n}")
    assert len(tracker._items) == KEPT_ITEMS
    assert tracker.current_item == "item_a" and tracker.received_ms("item_a") == 300
    position = PlaybackPosition("item_a", 120)
    assert tracker.truncate_points(position) == [PlaybackPosition("item_a", 120)]


def test_the_playing_item_and_those_queued_behind_it_are_kept_for_the_cut() -> None:
    tracker = PlaybackTracker(FORMAT)
    for n in range(KEPT_ITEMS - 3):
        answer(tracker, f"old_{n}")
    answer(tracker, "item_a", 300)
    answer(tracker, "item_b", 200)
    tracker.received("item_c", 100 * MS)
    position = PlaybackPosition("item_a", 250)
    assert tracker.truncate_points(position) == [
        PlaybackPosition("item_a", 250),
        PlaybackPosition("item_b", 0),
        PlaybackPosition("item_c", 0),
    ]
    assert tracker.truncate_point(position) == PlaybackPosition("item_a", 250)
    assert tracker.still_playing(position)


def test_more_audio_of_an_earlier_item_does_not_move_it_behind_later_ones() -> None:
    tracker = PlaybackTracker(FORMAT)
    tracker.received("item_a", 100 * MS)
    tracker.received("item_b", 100 * MS)
    tracker.received("item_a", 100 * MS)  # interleaved: A is still before B
    tracker.received("item_b", 100 * MS)
    position = PlaybackPosition("item_a", 50)
    assert tracker.truncate_points(position) == [
        PlaybackPosition("item_a", 50),
        PlaybackPosition("item_b", 0),
    ]


def test_after_a_cut_there_is_nothing_to_cut_until_new_audio() -> None:
    tracker = PlaybackTracker(FORMAT)
    answer(tracker, "item_a", 300)
    tracker.received("item_b", 200 * MS)
    position = PlaybackPosition("item_a", 250)
    tracker.finish(tracker.truncate_points(position))
    assert tracker.truncate_points(position) == []
    assert not tracker.still_playing(position)
    tracker.received("item_c", 100 * MS)
    assert tracker.truncate_points(position) == [PlaybackPosition("item_c", 0)]


def test_a_cut_point_is_a_playback_position() -> None:
    """One type for "item id, audio end ms, content index": the point the tracker cuts at is
    the position a channel reports, so either compares with the other."""
    tracker = PlaybackTracker(FORMAT)
    tracker.received("item_a", 300 * MS, content_index=1)
    position = PlaybackPosition("item_a", 120, 1)
    assert tracker.truncate_points(position) == [position]
    assert TruncatePoint is PlaybackPosition  # the old name, for code that imported it
