"""The default model's answers (SmolLM2-135M, real weights): right and not looping, and a reply
that loops is stopped (issue 13)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from voicewire.protocol import ToolDefinition
from voicewire.providers.local.llm import ChatMessage, LlamaCppLLM, LLMRequest, TextDelta
from voicewire.providers.local.llm.stopping import repeats
from voicewire.testing.answer_set import ask

from .conftest import needs_models

pytestmark = [needs_models, pytest.mark.timeout(120)]


def test_the_capital_of_france_is_paris_said_once() -> None:
    llm = LlamaCppLLM()
    answer = ask(llm, "What is the capital of France?")
    assert "Paris" in answer.text, answer.text
    assert not repeats(answer.text), answer.text


def test_the_same_chat_gets_the_same_answer_even_when_sampled_hot() -> None:
    llm = LlamaCppLLM()
    first = ask(llm, "Tell me about the sea.", temperature=1.5)
    assert ask(llm, "Tell me about the sea.", temperature=1.5).text == first.text


def test_a_reply_that_loops_is_stopped_before_it_says_the_loop_twice() -> None:
    llm = LlamaCppLLM()
    llm.load()
    pulled: list[str] = []

    def looping(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for _ in range(40):
            for piece in ("la", " France", " "):
                pulled.append(piece)
                yield {"choices": [{"text": piece}]}

    llm._llama.create_completion = looping
    request = LLMRequest("Be brief.", (ChatMessage("user", "Capital of France?"),))
    said = "".join(
        e.text for e in llm.stream(request, threading.Event()) if isinstance(e, TextDelta)
    )
    assert said.split() == ["la", "France", "la", "France"][: len(said.split())]
    assert len(said.split()) < 4 and len(pulled) < 12, (said, len(pulled))


def test_the_examples_are_offered_with_an_answer_not_with_a_tool_decision() -> None:
    llm = LlamaCppLLM()
    llm.load()
    chat = LLMRequest("Be brief.", (ChatMessage("user", "Turn on the light"),))
    light = ToolDefinition("set_light", "Turn the light on or off", {"type": "object"})
    assert "Madrid" in llm._prompt(chat, (), True)
    assert "Madrid" not in llm._prompt(chat, (light,), True)
