"""A small fixed set of questions a voice assistant should answer, scored by keywords.

Used by ``benchmarks/local_latency.py`` (the answer score per model, beside its time to the
first token) and by the local model's tests. Each :class:`Question` is right when the answer
holds one of its keywords (whole words, any case) and does not loop (see
:func:`~voicewire.providers.local.llm.stopping.repeats`). The set covers everyday facts,
arithmetic, advice, and questions the agent cannot know the answer to (a shop's opening hours):
for those the right answer says so instead of making something up.

The answers are sampled as the local pipeline samples them (its default temperature); the
llama.cpp models seed every request alike, so a score is the same on every run of the same
model and settings.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from ..providers.local.llm.interface import ChatMessage, LLMRequest, LocalLLM, TextDelta
from ..providers.local.llm.stopping import repeats
from ..providers.local.options import LocalOptions

Kind = Literal["fact", "arithmetic", "advice", "unknown"]

CANNOT_KNOW: Final = (
    "don't know",
    "do not know",
    "not sure",
    "can't",
    "cannot",
    "can not",
    "don't have",
    "do not have",
    "unable",
    "no way",
    "not able",
    "no access",
    "check",
    "call",
    "look up",
    "website",
)
"""What an honest "I cannot know that" answer says (one of them)."""


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    kind: Kind
    keywords: tuple[str, ...]
    """The answer is right when it holds one of these (whole words or phrases, any case)."""

    def right(self, answer: str) -> bool:
        lowered = answer.lower().replace("\u2019", "'")
        found = any(re.search(rf"\b{re.escape(k)}\b", lowered) for k in self.keywords)
        return found and not repeats(answer)


QUESTIONS: Final = (
    Question("What is the capital of France?", "fact", ("paris",)),
    Question("How many legs does a spider have?", "fact", ("eight", "8")),
    Question("What do bees make?", "fact", ("honey",)),
    Question("What colour is the sky on a clear day?", "fact", ("blue",)),
    Question("What is 17 plus 25?", "arithmetic", ("42", "forty-two", "forty two")),
    Question("What is 10 minus 3?", "arithmetic", ("7", "seven")),
    Question("How many days are there in two weeks?", "arithmetic", ("14", "fourteen")),
    Question(
        "I have a headache. What could help?",
        "advice",
        (
            *("water", "rest", "sleep", "drink", "painkiller", "ibuprofen", "paracetamol"),
            *("aspirin", "doctor", "lie down", "tea", "bath", "break"),
        ),
    ),
    Question(
        "How can I sleep better at night?",
        "advice",
        (
            *("routine", "screen", "screens", "caffeine", "coffee", "dark", "regular"),
            *("schedule", "relax", "bath", "read", "reading", "quiet", "cool"),
        ),
    ),
    Question("What time does the bakery on my street open today?", "unknown", CANNOT_KNOW),
    Question("What is my neighbour's name?", "unknown", CANNOT_KNOW),
    Question("Is the pharmacy near me open right now?", "unknown", CANNOT_KNOW),
)
"""The fixed question set: four facts, three sums, two pieces of advice, three unknowables."""

INSTRUCTIONS: Final = (
    "You are a helpful voice assistant. Answer briefly, in one or two short sentences."
)
"""The instructions the set is asked with (the local model's default ones)."""


@dataclass(frozen=True, slots=True)
class Answer:
    question: Question
    text: str
    first_token_s: float

    @property
    def right(self) -> bool:
        return self.question.right(self.text)


@dataclass(frozen=True, slots=True)
class AnswerScore:
    model: str
    answers: tuple[Answer, ...]

    @property
    def right(self) -> int:
        return sum(a.right for a in self.answers)

    @property
    def first_token_median_s(self) -> float:
        return statistics.median(a.first_token_s for a in self.answers)

    def line(self) -> str:
        """One line: the score (by kind) beside the median time to the first token."""
        kinds: dict[str, list[bool]] = {}
        for a in self.answers:
            kinds.setdefault(a.question.kind, []).append(a.right)
        by_kind = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in kinds.items())
        return (
            f"answers {self.model}: {self.right}/{len(self.answers)} right ({by_kind}) | "
            f"first token median {self.first_token_median_s:.3f} s"
        )


TEMPERATURE: Final = LocalOptions().temperature


def ask(
    llm: LocalLLM,
    question: str,
    *,
    instructions: str = INSTRUCTIONS,
    max_tokens: int = 80,
    temperature: float = TEMPERATURE,
) -> Answer:
    """``llm``'s whole answer to one question and its time to the first text."""
    request = LLMRequest(
        instructions,
        (ChatMessage("user", question),),
        max_tokens=max_tokens,
        temperature=temperature,
    )
    llm.warm(request)
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    for event in llm.stream(request, threading.Event()):
        if isinstance(event, TextDelta):
            first = first if first is not None else time.perf_counter() - started
            parts.append(event.text)
    text = "".join(parts).strip()
    return Answer(Question(question, "fact", ()), text, first if first is not None else 0.0)


def score(
    llm: LocalLLM,
    questions: Sequence[Question] = QUESTIONS,
    *,
    instructions: str = INSTRUCTIONS,
) -> AnswerScore:
    """Ask ``llm`` every question (loading it first) and score the answers."""
    llm.load()
    answers = []
    for question in questions:
        asked = ask(llm, question.text, instructions=instructions)
        answers.append(Answer(question, asked.text, asked.first_token_s))
    return AnswerScore(llm.name, tuple(answers))
