"""The local model's conversation: what an interrupted answer is remembered to have said."""

from __future__ import annotations

from voicewire.providers.local import heard_text


def test_heard_text_keeps_whole_clauses_and_the_played_share_of_the_cut_one() -> None:
    segments = [("Hello there.", 0.0, 1000.0), ("One two three four.", 1000.0, 2000.0)]
    assert heard_text(segments, 5000) == "Hello there. One two three four."
    assert heard_text(segments, 1500) == "Hello there. One two"
    assert heard_text(segments, 999) == "Hello"
    assert heard_text(segments, 400) == ""
    assert heard_text(segments, 0) == ""
