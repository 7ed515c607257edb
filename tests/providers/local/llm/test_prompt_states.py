"""The saved-state store of the shared llama.cpp context (pure: a fake context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicewire.providers.local.llm.prompt_states import PromptStates


@dataclass
class State:
    input_ids: Any
    n_tokens: int
    llama_state_size: int = 10
    scores: Any = field(default_factory=lambda: np.zeros((4, 3), dtype=np.float32))


class Context:
    """What PromptStates reads of a ``llama_cpp.Llama``."""

    def __init__(self, held: list[int]) -> None:
        self.input_ids = np.array(held)
        self.n_tokens = len(held)

    def save_state(self) -> State:
        return State(self.input_ids.copy(), self.n_tokens)


def test_a_conversation_is_saved_only_when_a_prompt_would_replace_enough_of_it() -> None:
    states = PromptStates(capacity_bytes=1000, min_gain=5)
    context = Context(list(range(20)))
    states.keep(context, [*range(18), 99])  # replaces 2 tokens: nothing saved
    assert states.saves == 0
    states.keep(context, [*range(10), 99])  # replaces 10
    assert states.saves == 1 and len(states) == 1
    assert states.size == 10 + 3 * 4  # the logits of the last token only are kept


def test_a_saved_state_is_handed_back_only_when_it_spares_enough_beyond_the_context() -> None:
    states = PromptStates(capacity_bytes=1000, min_gain=5)
    states.keep(Context(list(range(20))), [7])
    now = Context(list(range(10)))
    state = states.best(now, [*range(20), 99])  # spares 10 beyond the 10 the context shares
    assert state is not None and list(state.input_ids) == list(range(20))
    assert states.best(Context(list(range(16))), list(range(20))) is None  # spares only 4
    assert states.best(now, [7, 7, 7]) is None  # shares nothing
    assert states.loads == 1


def test_the_least_recently_used_states_go_first_beyond_the_capacity() -> None:
    states = PromptStates(capacity_bytes=50, min_gain=1)
    for first in (1, 2):
        states.keep(Context([first] * 5), [0])
    assert states.best(Context([]), [1] * 5) is not None  # used: now the most recent
    states.keep(Context([3] * 5), [0])  # 66 bytes: the least recently used one goes
    assert len(states) == 2
    assert states.best(Context([]), [2] * 5) is None
    assert states.best(Context([]), [1] * 5) is not None
