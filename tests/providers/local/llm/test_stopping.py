"""When a reply loops (:func:`repeats`), and the answer set's keyword scoring built on it."""

from __future__ import annotations

import pytest

from voicewire.providers.local.llm.stopping import repeats, sentences
from voicewire.testing.answer_set import CANNOT_KNOW, QUESTIONS, Question


@pytest.mark.parametrize(
    "text",
    [
        "The capital is la France la France",
        "It is the the the best",
        "Paris is lovely. Paris is lovely.",
        "I can help with that, I can help with that",
    ],
)
def test_a_loop_is_spotted(text: str) -> None:
    assert repeats(text)


@pytest.mark.parametrize(
    "text",
    [
        "The capital of France is Paris.",
        "Very very good, thank you.",
        "Bees make honey. They also make wax.",
        "One, two, three, four.",
        "Paris is lovely. Paris is",  # a sentence said again is a loop only once it ends
    ],
)
def test_speech_is_not_a_loop(text: str) -> None:
    assert not repeats(text)


def test_sentences_counts_the_ended_ones() -> None:
    assert sentences("Hi there. How are you? I am") == 2


def test_an_answer_is_right_with_a_keyword_and_no_loop() -> None:
    capital = QUESTIONS[0]
    assert capital.right("The capital of France is Paris.")
    assert not capital.right("It is Lyon.")
    assert not capital.right("Paris, la France la France")
    assert not capital.right("Comparisons are hard.")  # whole words only
    unknown = Question("When does the bakery open?", "unknown", CANNOT_KNOW)
    assert unknown.right("I don\u2019t know, sorry.")
    assert not unknown.right("It opens at 7 am.")
