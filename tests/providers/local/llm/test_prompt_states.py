"""The saved-state store of the shared llama.cpp context (pure: a fake context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicewire.providers.local.llm.prompt_states import PromptStates, common_length


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


def keep(states: PromptStates, context: Context, prompt: list[int]) -> None:
    """As LlamaCppLLM calls it: with what the context holds and how much of it ``prompt``
    shares."""
    held = context.input_ids[: context.n_tokens].tolist()
    states.keep(context, held, common_length(held, prompt))


def best(states: PromptStates, context: Context, prompt: list[int]) -> Any:
    held = context.input_ids[: context.n_tokens].tolist()
    saved = states.best(prompt, common_length(held, prompt))
    return None if saved is None else saved[0]


def test_a_conversation_is_saved_only_when_a_prompt_would_replace_enough_of_it() -> None:
    states = PromptStates(capacity_bytes=1000, min_gain=5)
    context = Context(list(range(20)))
    keep(states, context, [*range(18), 99])  # replaces 2 tokens: nothing saved
    assert states.saves == 0
    keep(states, context, [*range(10), 99])  # replaces 10
    assert states.saves == 1 and len(states) == 1
    assert states.size == 10 + 3 * 4  # the logits of the last token only are kept


def test_a_saved_state_is_handed_back_only_when_it_spares_enough_beyond_the_context() -> None:
    states = PromptStates(capacity_bytes=1000, min_gain=5)
    keep(states, Context(list(range(20))), [7])
    now = Context(list(range(10)))
    state = best(states, now, [*range(20), 99])  # spares 10 beyond the 10 the context shares
    assert state is not None and list(state.input_ids) == list(range(20))
    assert best(states, Context(list(range(16))), list(range(20))) is None  # spares only 4
    assert best(states, now, [7, 7, 7]) is None  # shares nothing
    assert states.loads == 1


def test_the_least_recently_used_states_go_first_beyond_the_capacity() -> None:
    states = PromptStates(capacity_bytes=50, min_gain=1)
    for first in (1, 2):
        keep(states, Context([first] * 5), [0])
    assert best(states, Context([]), [1] * 5) is not None  # used: now the most recent
    keep(states, Context([3] * 5), [0])  # 66 bytes: the least recently used one goes
    assert len(states) == 2
    assert best(states, Context([]), [2] * 5) is None
    assert best(states, Context([]), [1] * 5) is not None
