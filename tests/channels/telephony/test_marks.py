"""What the caller has heard, from echoed marks (voicewire.channels.telephony.marks)."""

from __future__ import annotations

from voicewire.channels.telephony.marks import MarkTracker


def test_marks_settle_in_order_and_only_once() -> None:
    marks = MarkTracker()
    a1 = marks.new("item_a", 0, 20)
    a2 = marks.new("item_a", 0, 40)
    a3 = marks.new("item_a", 0, 60)
    assert len({a1.name, a2.name, a3.name}) == 3
    assert marks.heard_ms("item_a") == 0
    assert marks.acknowledge(a1.name) == a1
    assert marks.heard_ms("item_a") == 20
    # Echoing a later mark settles the earlier ones too (Twilio plays in order).
    assert marks.acknowledge(a3.name) == a3
    assert marks.heard_ms("item_a") == 60
    assert marks.pending == ()
    assert marks.acknowledged == 3
    assert marks.acknowledge(a2.name) is None  # already settled
    assert marks.acknowledge("not-ours") is None
    assert marks.heard_ms("item_a") == 60


def test_forgotten_marks_are_not_heard() -> None:
    marks = MarkTracker()
    first = marks.new("item_a", 0, 20)
    cleared = [marks.new("item_a", 0, ms) for ms in (40, 60)]
    marks.acknowledge(first.name)
    assert marks.forget_pending() == 2
    for mark in cleared:  # Twilio echoes queued marks after a clear
        assert marks.acknowledge(mark.name) is None
    assert marks.heard_ms("item_a") == 20


def test_heard_is_per_item_and_content_part() -> None:
    marks = MarkTracker()
    marks.acknowledge(marks.new("item_a", 0, 100).name)
    marks.acknowledge(marks.new("item_b", 0, 40).name)
    marks.acknowledge(marks.new("item_b", 1, 10).name)
    assert (marks.heard_ms("item_a"), marks.heard_ms("item_b"), marks.heard_ms("item_b", 1)) == (
        100,
        40,
        10,
    )
    assert marks.heard_ms("item_c") == 0
