"""Saved llama.cpp states, by prompt, for sessions that take turns on one shared context.

Every session of a process shares one llama.cpp context, and llama.cpp reuses only the longest
common prefix of the prompt it holds. When two callers take turns, each turn finds the other's
conversation there and evaluates its own whole history again: with two interleaved sessions the
first token took 0.17 s at their second exchange and 0.7 s at their sixth (SmolLM2-135M, two
cores), and it grows with the history.

So before a request replaces a conversation the context holds (more than ``min_gain`` tokens of
it would be lost), that state is saved (:meth:`PromptStates.keep`), and a request whose saved
conversation spares at least ``min_gain`` tokens beyond what the context shares with it loads it
back (:meth:`PromptStates.best`): a load takes ~0.2 s, the time of ~60 tokens. A session alone
never saves or loads. llama-cpp-python's own ``Llama.set_cache`` is not used: it saves after
every reply, and its states carry a copy of the logits of up to 512 tokens (~100 MB for
SmolLM2's vocabulary) that its size limit does not count; a state kept here holds the last row
only (a loaded state is evaluated again from its last token anyway).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

MIN_GAIN = 64
"""Tokens a saved state must spare, beyond what the context already holds, to be worth it."""


def common_length(a: Sequence[object], b: Sequence[object]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptStates:
    """Saved states of a ``llama_cpp.Llama``, least recently used dropped first once they take
    more than ``capacity_bytes``."""

    def __init__(self, capacity_bytes: int, min_gain: int = MIN_GAIN) -> None:
        self.capacity_bytes = capacity_bytes
        self.min_gain = min_gain
        self._states: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.saves = 0
        self.loads = 0
        """How many states were saved and handed back (for tests)."""

    def keep(self, llama: Any, held: Sequence[int], shared: int) -> None:
        """Save what ``llama`` holds (``held``) if the next prompt, which shares its first
        ``shared`` tokens, is about to replace enough of it."""
        if len(held) - shared < self.min_gain:
            return
        state = llama.save_state()
        state.scores = state.scores[-1:].copy()  # see the module docstring
        self.saves += 1
        key = tuple(held)
        self._states.pop(key, None)
        self._states[key] = state
        while self._states and self.size > self.capacity_bytes:
            self._states.popitem(last=False)

    def best(self, prompt: Sequence[int], shared: int) -> tuple[Any, int] | None:
        """The saved state to load before evaluating ``prompt`` (of which the context holds the
        first ``shared`` tokens), if one spares enough, and how much of ``prompt`` it holds."""
        best: tuple[int, ...] | None = None
        best_length = shared + self.min_gain - 1
        for key in self._states:
            length = common_length(key, prompt)
            if length > best_length:
                best, best_length = key, length
        if best is None:
            return None
        self._states.move_to_end(best)
        self.loads += 1
        return self._states[best], best_length

    @property
    def size(self) -> int:
        """Bytes held by the saved states."""
        return sum(
            int(state.llama_state_size) + int(state.scores.nbytes)
            for state in self._states.values()
        )

    def __len__(self) -> int:
        return len(self._states)
