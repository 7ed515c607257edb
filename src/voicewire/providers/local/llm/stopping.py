"""When a spoken answer should stop before the token budget runs out.

Small models (SmolLM2-135M) fall into loops ("la France la France la France ...") and run on
past the answer. :func:`repeats` spots a loop in the text so far: a run of words said again right
after itself (twice for two words or more, three times for a single word: "very very" is
speech, "the the the" is a loop), or a sentence said again. :func:`sentences` counts the
sentences ended so far, so a voice answer can stop after a few.
"""

from __future__ import annotations

import re
from typing import Final

MAX_SPAN: Final = 8
"""The longest run of words checked for an immediate repeat."""

_WORD = re.compile(r"[\w']+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def repeats(text: str) -> bool:
    """Whether ``text`` ends in (or contains) a loop: the same words again and again."""
    words = _words(text)
    for span in range(1, MAX_SPAN + 1):
        times = 3 if span == 1 else 2
        for start in range(len(words) - span * times + 1):
            run = words[start : start + span]
            if all(words[start + k * span : start + (k + 1) * span] == run for k in range(times)):
                return True
    said = [s for s in (" ".join(_words(part)) for part in _SENTENCE_END.split(text)) if s]
    complete = said if _SENTENCE_END.search(text[-2:] + " ") else said[:-1]
    return len(set(complete)) < len(complete)


def sentences(text: str) -> int:
    """How many sentences of ``text`` are complete (ended by ``.``, ``!`` or ``?``)."""
    return len(_SENTENCE_END.findall(text))
