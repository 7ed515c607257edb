"""Saved llama.cpp states, by prompt, for sessions that take turns on one shared context.

Every session of a process shares one llama.cpp context, and llama.cpp reuses only the longest
common prefix of the prompt it holds. When two callers take turns, each turn finds the other's
conversation there and evaluates its own whole history again: with two interleaved sessions the
first token took 0.17 s at their second exchange and 0.7 s at their sixth (SmolLM2-135M, two
cores), and it grows with the history. llama-cpp-python can keep the state after each reply
(``Llama.set_cache``) and load the one that shares the most of the next prompt; this is that
cache, with one difference from its ``LlamaRAMCache``: a saved state is loaded only when it
saves evaluating at least ``min_gain`` tokens more than the context holds already, because loading
one takes ~0.18 s, the time of ~60 tokens, and a session speaking alone must not pay it for a few
tokens.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

MIN_GAIN = 64
"""Tokens a saved state must spare, beyond what the context already holds, to be loaded."""


def common_length(a: Sequence[object], b: Sequence[object]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptStates:
    """A ``Llama.set_cache`` cache: the states after the latest replies, least recently used
    dropped first once they take more than ``capacity_bytes``; ``held`` tells the tokens the
    context holds now."""

    def __init__(
        self, held: Callable[[], Sequence[int]], capacity_bytes: int, min_gain: int = MIN_GAIN
    ) -> None:
        self._held = held
        self.capacity_bytes = capacity_bytes
        self.min_gain = min_gain
        self._states: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.loads = 0
        """How many saved states were handed to llama.cpp (for tests)."""

    def _best(self, tokens: Sequence[int]) -> tuple[tuple[int, ...] | None, int]:
        best: tuple[int, ...] | None = None
        best_length = 0
        for key in self._states:
            length = common_length(key, tokens)
            if length > best_length:
                best, best_length = key, length
        return best, best_length

    def __getitem__(self, tokens: Sequence[int]) -> Any:
        key, length = self._best(tokens)
        if key is None or length - common_length(self._held(), tokens) < self.min_gain:
            raise KeyError("no saved state spares enough of this prompt")
        self._states.move_to_end(key)
        self.loads += 1
        return self._states[key]

    def __contains__(self, tokens: Sequence[int]) -> bool:
        return self._best(tokens)[0] is not None

    def __setitem__(self, tokens: Sequence[int], state: Any) -> None:
        key = tuple(tokens)
        self._states.pop(key, None)
        self._states[key] = state
        while self._states and self.size > self.capacity_bytes:
            self._states.popitem(last=False)

    @property
    def size(self) -> int:
        """Bytes held by the saved states."""
        return sum(int(state.llama_state_size) for state in self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def __bool__(self) -> bool:
        return True  # llama-cpp-python tests ``if self.cache``: an empty cache still saves
