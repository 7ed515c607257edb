"""What the local pipeline needs of a language model: the chat it gets and the events it streams.

The pipeline talks to any :class:`LocalLLM`: something that turns a chat (:class:`LLMRequest`)
into a stream of :class:`TextDelta` and/or :class:`ToolCallRequest` events, ending with
:class:`LLMUsage`, run in a worker thread and stopped early through a ``threading.Event``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ....protocol import ToolDefinition

ChatRole = Literal["system", "user", "assistant", "tool"]
ToolRouting = Literal["auto", "keywords", "model"]


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """The model asks for ``name`` with ``arguments`` (a JSON object as text)."""

    name: str
    arguments: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of the chat the LLM sees.

    ``tool_call`` is set on an assistant turn that called a tool; a ``"tool"`` turn carries the
    result of the call ``tool_call_id`` (named ``name``) in ``content``.
    """

    role: ChatRole
    content: str
    tool_call: ToolCallRequest | None = None
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LLMRequest:
    instructions: str
    messages: Sequence[ChatMessage]
    tools: Sequence[ToolDefinition] = ()
    tool_choice: str = "auto"
    """``auto``, ``none``, ``required`` or the name of the one tool to call."""
    max_tokens: int = 160
    temperature: float = 0.3


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class LLMUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


LLMEvent = TextDelta | ToolCallRequest | LLMUsage


@runtime_checkable
class LocalLLM(Protocol):
    """What the local pipeline needs of a language model.

    ``load`` and ``stream`` run in worker threads, never on the event loop. ``stream`` must stop
    soon after ``cancel`` is set (between tokens). One instance may serve several sessions at
    once; it serialises access itself if it has to.
    """

    @property
    def name(self) -> str: ...

    def load(self) -> None:
        """Load weights / check the endpoint; called once before the first request."""
        ...

    def warm(self, request: LLMRequest) -> None:
        """Optionally pre-compute what every reply to ``request``'s chat starts with (the system
        prompt); called off the event loop when the session's instructions change."""
        ...

    def stream(self, request: LLMRequest, cancel: threading.Event) -> Iterator[LLMEvent]: ...
