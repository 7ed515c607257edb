"""The language model a ``realtime(llm=...)`` argument names: the bundled model, an opt-in model
by name (:data:`NAMED_MODELS`), a GGUF file, an endpoint or an instance; llama.cpp models are
loaded once per process and shared."""

from __future__ import annotations

import os
import threading

from ....protocol import ConfigurationError
from .interface import LocalLLM, ToolRouting
from .llamacpp import LlamaCppLLM
from .openai_compatible import OpenAICompatibleLLM
from .split_gguf import QWEN_CODER_05B, SplitGGUF

NAMED_MODELS: dict[str, SplitGGUF | None] = {
    "smollm2": None,
    "smollm2-135m": None,
    "qwen": QWEN_CODER_05B,
    "qwen2.5-coder-0.5b": QWEN_CODER_05B,
    "qwen2.5-coder-0.5b-instruct": QWEN_CODER_05B,
}
"""The models ``llm=`` takes by name: the bundled SmolLM2 (the default), and the opt-in
Qwen2.5-Coder-0.5B-Instruct of the ``local-qwen`` extra (see :mod:`.split_gguf`)."""


def make_llm(
    llm: str | os.PathLike[str] | LocalLLM | None,
    *,
    llm_model: str | None = None,
    api_key: str | None = None,
    tool_routing: ToolRouting = "auto",
    n_threads: int | None = None,
) -> LocalLLM:
    """``None`` → bundled SmolLM2; ``http(s)://...`` → endpoint; a name of
    :data:`NAMED_MODELS` → that model; a path → GGUF; or an instance."""
    if llm is None or isinstance(llm, str | os.PathLike):
        text = os.fspath(llm) if llm is not None else None
        if text is not None and text.startswith(("http://", "https://")):
            return OpenAICompatibleLLM(text, llm_model, api_key)
        if text is not None and not os.path.exists(text):
            if text.lower() in NAMED_MODELS:
                return _shared_llama(NAMED_MODELS[text.lower()], tool_routing, n_threads)
            raise ConfigurationError(
                f"no GGUF model file at {text!r}; name a model ({', '.join(NAMED_MODELS)}), "
                "a GGUF file or an http(s):// OpenAI-compatible endpoint"
            )
        return _shared_llama(text, tool_routing, n_threads)
    if isinstance(llm, LocalLLM):
        return llm
    raise ConfigurationError(
        f"llm must be a GGUF path, an http(s) URL or a LocalLLM, got {type(llm).__name__}"
    )


_SHARED: dict[tuple[str | SplitGGUF | None, str, int | None], LlamaCppLLM] = {}
_SHARED_LOCK = threading.Lock()


def _shared_llama(
    path: str | SplitGGUF | None, routing: ToolRouting, n_threads: int | None
) -> LlamaCppLLM:
    """One LlamaCppLLM (one loaded model) per process and settings, shared by every session."""
    resolved = os.path.abspath(path) if isinstance(path, str) else path
    key = (resolved, routing, n_threads)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = LlamaCppLLM(resolved, tool_routing=routing, n_threads=n_threads)
            _SHARED[key] = found
        return found
