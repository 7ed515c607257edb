"""The language model behind the local realtime model, and the small interface it meets.

- :mod:`.interface`: :class:`LocalLLM` and the chat and events it exchanges with the pipeline;
- :mod:`.tools`: which tools a reply may call, and how they are described to a JSON-decoding model;
- :mod:`.json_reply`: the streaming reader of a ``{"answer": ...}`` / ``{"tool": ...}`` reply;
- :mod:`.llamacpp`: :class:`LlamaCppLLM`, a GGUF file run in-process by llama-cpp-python;
- :mod:`.openai_compatible`: :class:`OpenAICompatibleLLM`, any OpenAI-compatible endpoint;
- :mod:`.factory`: :func:`make_llm`, the model a ``realtime(llm=...)`` argument names.
"""

from .factory import make_llm
from .interface import (
    ChatMessage,
    ChatRole,
    LLMEvent,
    LLMRequest,
    LLMUsage,
    LocalLLM,
    TextDelta,
    ToolCallRequest,
    ToolRouting,
)
from .json_reply import JsonReplyParser
from .llamacpp import LlamaCppLLM
from .openai_compatible import OpenAICompatibleLLM
from .tools import decision_schema, keywords, offered_tools, tool_keywords, tools_prompt

__all__ = [
    "ChatMessage",
    "ChatRole",
    "JsonReplyParser",
    "LLMEvent",
    "LLMRequest",
    "LLMUsage",
    "LlamaCppLLM",
    "LocalLLM",
    "OpenAICompatibleLLM",
    "TextDelta",
    "ToolCallRequest",
    "ToolRouting",
    "decision_schema",
    "keywords",
    "make_llm",
    "offered_tools",
    "tool_keywords",
    "tools_prompt",
]
