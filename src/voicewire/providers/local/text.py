"""Cutting streamed model text into clauses to speak, and cleaning it for the voice."""

from __future__ import annotations

import re
from typing import Final

_SENTENCE_END: Final = ".!?"
_CLAUSE_END: Final = ",;:"
_MARKUP = re.compile(r"[*_#`~<>|\[\]{}]+")
_SPACES = re.compile(r"\s+")


def speakable(text: str) -> str:
    """Drop markdown and symbols a voice should not read out; keep words and punctuation."""
    text = _MARKUP.sub(" ", text)
    text = "".join(ch for ch in text if (ch.isprintable() and ord(ch) < 0x2000) or ch in "’‘“”—–")
    return _SPACES.sub(" ", text).strip()


class ClauseSplitter:
    """Feed text deltas; get back clauses ready to speak.

    A clause ends at sentence punctuation followed by a space, or at ``, ; :`` followed by a space
    once it has ``min_words`` words (the first clause needs fewer, ``first_min_words``, so the
    voice starts early), or, without punctuation, after ``max_words`` words (``first_max_words``
    for the first clause).
    """

    def __init__(
        self,
        *,
        first_min_words: int = 2,
        first_max_words: int = 6,
        min_words: int = 5,
        max_words: int = 24,
    ):
        self.first_min_words = first_min_words
        self.first_max_words = first_max_words
        self.min_words = min_words
        self.max_words = max_words
        self._buffer = ""
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        out: list[str] = []
        while True:
            clause = self._next()
            if clause is None:
                return out
            out.append(clause)

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _next(self) -> str | None:
        buffer = self._buffer
        minimum = self.first_min_words if self._emitted == 0 else self.min_words
        for i in range(len(buffer) - 1):
            ch = buffer[i]
            if ch not in _SENTENCE_END and ch not in _CLAUSE_END:
                continue
            if not buffer[i + 1].isspace():
                continue
            candidate = buffer[: i + 1]
            words = len(candidate.split())
            if ch in _SENTENCE_END or words >= minimum:
                return self._take(i + 1)
        limit = self.first_max_words if self._emitted == 0 else self.max_words
        cut = max(buffer.rfind(" "), buffer.rfind("\n"))
        if cut > 0 and len(buffer[:cut].split()) >= limit:
            return self._take(cut)  # the words before the last space are complete
        return None

    def _take(self, end: int) -> str | None:
        clause = self._buffer[:end].strip()
        self._buffer = self._buffer[end:].lstrip()
        if not clause:
            return None
        self._emitted += 1
        return clause
