"""What the local model speaks: clauses cut from the token stream, and text fit for speech."""

from __future__ import annotations

from typing import Any

from voicewire.providers.local.text import ClauseSplitter, speakable


def split_stream(text: str, **kwargs: Any) -> list[str]:
    splitter = ClauseSplitter(**kwargs)
    out: list[str] = []
    for i in range(0, len(text), 3):  # token-sized pieces
        out.extend(splitter.feed(text[i : i + 3]))
    return out + splitter.flush()


def test_clauses_speak_the_first_words_early_and_keep_numbers_whole() -> None:
    text = "Sure! The capital of France is Paris, a city of 2.1 million people. Anything else?"
    assert split_stream(text) == [
        "Sure!",
        "The capital of France is Paris,",
        "a city of 2.1 million people.",
        "Anything else?",
    ]


def test_short_clauses_wait_for_enough_words_and_long_runs_are_cut() -> None:
    assert split_stream("Well, yes, I think so, really.", min_words=5) == [
        "Well, yes,",
        "I think so, really.",
    ]
    long = " ".join(["word"] * 30)
    clauses = split_stream(long + ".", max_words=10)
    assert len(clauses) >= 2
    assert " ".join(clauses).split() == (long + ".").split()


def test_speakable_drops_markdown_and_emoji() -> None:
    assert speakable("**Hello** `world` 🎉 — fine.") == "Hello world — fine."
