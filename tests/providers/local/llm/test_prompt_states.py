"""The saved-state cache the shared llama.cpp context loads from (pure: fake states)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from voicewire.providers.local.llm.prompt_states import PromptStates


@dataclass
class State:
    llama_state_size: int


def test_a_state_is_loaded_only_when_it_spares_enough_beyond_the_context() -> None:
    held: list[int] = list(range(10))
    states = PromptStates(lambda: held, capacity_bytes=100, min_gain=5)
    saved = State(10)
    states[list(range(20))] = saved
    assert states[[*range(20), 99]] is saved  # spares 10 tokens beyond the 10 held
    assert states.loads == 1
    held[:] = list(range(16))
    with pytest.raises(KeyError):
        states[list(range(20))]  # spares only 4
    with pytest.raises(KeyError):
        states[[7, 7, 7]]  # shares nothing
    assert states.loads == 1 and bool(PromptStates(list, 1))  # empty, yet llama.cpp saves to it


def test_the_least_recently_used_states_go_first_beyond_the_capacity() -> None:
    states = PromptStates(list, capacity_bytes=25, min_gain=1)
    states[[1, 1]] = State(10)
    states[[2, 2]] = State(10)
    assert states[[1, 1, 5]].llama_state_size == 10  # used: now the most recent
    states[[3, 3]] = State(10)  # 30 bytes: the least recently used one goes
    assert len(states) == 2 and states.size == 20
    assert [1, 1] in states and [2, 2] not in states
