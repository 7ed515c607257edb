"""Speech-to-text clean-up of the local model."""

from __future__ import annotations

from voicewire.providers.local.stt import drop_repeats


def test_whisper_loops_are_dropped() -> None:
    assert drop_repeats("What is the capital of France? What is the capital") == (
        "What is the capital of France?"
    )
    assert drop_repeats("Hello? Hello? Hello? Hello") == "Hello?"
    assert drop_repeats("Yes. No. Yes.") == "Yes. No. Yes."
