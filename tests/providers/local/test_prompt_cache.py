"""A long conversation keeps reusing llama.cpp's cached prompt (real SmolLM2 weights): the chat
window over the history moves in steps, so the prompt does not change right after the
instructions every turn once the history is longer than the window."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from voicewire.protocol import MessageItem, TextPart
from voicewire.providers.local.conversation import LocalConversation
from voicewire.providers.local.llm import LlamaCppLLM, LLMRequest, LLMUsage, TextDelta
from voicewire.providers.local.llm.prompt_states import MIN_GAIN
from voicewire.providers.local.options import LocalOptions

from .conftest import needs_models

pytestmark = [needs_models, pytest.mark.timeout(180)]


def test_past_the_history_window_most_turns_reuse_the_cached_prompt() -> None:
    llm = LlamaCppLLM()
    conversation = LocalConversation()
    limit = LocalOptions().history_items
    reused: list[float] = []
    for turn in range(limit):  # twice the window in items
        conversation.add(MessageItem(f"u{turn}", "user", (TextPart(f"Question {turn}?"),)))
        request = LLMRequest("Answer briefly.", conversation.chat(limit), max_tokens=1)
        [usage] = [e for e in llm.stream(request, threading.Event()) if isinstance(e, LLMUsage)]
        reused.append(usage.cached_tokens / usage.input_tokens)
        answer = MessageItem(f"a{turn}", "assistant", (TextPart(f"Answer {turn}."),))
        conversation.put_assistant(answer, [])
    # The chat is evaluated again only when the window steps: at 25 items and at 37 (turns 12
    # and 18; a window sliding by one item would do it on every turn from the 12th on).
    evaluated_again = [turn for turn, share in enumerate(reused) if share < 0.8]
    assert evaluated_again == [0, 12, 18], reused


def test_a_chat_too_long_for_the_context_is_cut_in_steps_that_later_turns_reuse() -> None:
    llm = LlamaCppLLM(n_ctx=512)
    conversation = LocalConversation()
    reused: list[float] = []
    said = "Tell me about the weather in a long and winding sentence, please, number"
    for turn in range(24):
        conversation.add(MessageItem(f"u{turn}", "user", (TextPart(f"{said} {turn}."),)))
        request = LLMRequest("Answer briefly.", conversation.chat(1000), max_tokens=1)
        [usage] = [e for e in llm.stream(request, threading.Event()) if isinstance(e, LLMUsage)]
        reused.append(usage.cached_tokens / usage.input_tokens)
        answer = MessageItem(f"a{turn}", "assistant", (TextPart(f"It is sunny, {turn}."),))
        conversation.put_assistant(answer, [])
    cut = [turn for turn, share in enumerate(reused) if share < 0.8][1:]  # [0]: the first turn
    assert cut, reused  # the chat outgrew the context
    # Cut by one exchange at a time, every turn from the first cut on evaluated it all again.
    assert len(cut) <= (len(reused) - cut[0]) // 3, reused


def evaluated_per_turn(llm: LlamaCppLLM, sessions: int, turns: int) -> list[int]:
    """Tokens llama.cpp evaluates for each reply when ``sessions`` conversations take turns."""
    llm.load()
    evaluated: list[int] = []
    real_eval = llm._llama.eval

    def counting_eval(tokens: Any) -> None:
        evaluated[-1] += len(tokens)
        real_eval(tokens)

    llm._llama.eval = counting_eval
    chats = [LocalConversation() for _ in range(sessions)]
    for turn in range(turns):
        for who, chat in enumerate(chats):
            question = f"Caller {who} asks question number {turn}: what is {turn} and {who}?"
            chat.add(MessageItem(f"u{turn}", "user", (TextPart(question),)))
            evaluated.append(0)
            request = LLMRequest("Answer briefly.", chat.chat(24), max_tokens=4)
            answer = "".join(
                e.text for e in llm.stream(request, threading.Event()) if isinstance(e, TextDelta)
            )
            chat.put_assistant(
                MessageItem(f"a{turn}", "assistant", (TextPart(answer.strip()),)), []
            )
    return evaluated


def test_sessions_taking_turns_each_resume_their_own_conversation_from_a_saved_state() -> None:
    shared = LlamaCppLLM()
    evaluated = evaluated_per_turn(shared, sessions=2, turns=5)
    assert shared.prompt_states is not None and shared.prompt_states.loads > 0
    # Once a conversation outgrows MIN_GAIN (its fourth exchange here), each reply evaluates
    # its new question only, not the conversation the other caller pushed out of the context.
    assert max(evaluated[6:]) < MIN_GAIN, evaluated
    without = evaluated_per_turn(LlamaCppLLM(prompt_cache_mb=0), sessions=2, turns=5)
    assert min(without[6:]) > 2 * max(evaluated[6:]), (without, evaluated)  # what it spares


def test_a_session_alone_never_saves_or_loads_a_state() -> None:
    alone = LlamaCppLLM()
    evaluated_per_turn(alone, sessions=1, turns=6)
    assert alone.prompt_states is not None
    assert (alone.prompt_states.saves, alone.prompt_states.loads) == (0, 0)  # no cost alone
