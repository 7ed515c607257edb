"""The LLM a ``realtime(llm=...)`` argument names."""

from __future__ import annotations

from typing import Any

import pytest

from voicewire.protocol import ConfigurationError
from voicewire.providers.local.llm import OpenAICompatibleLLM, make_llm


def test_an_llm_url_or_path_picks_the_implementation(tmp_path: Any) -> None:
    by_url = make_llm("http://localhost:11434/v1#llama3.2")
    assert isinstance(by_url, OpenAICompatibleLLM)
    assert (by_url.base_url, by_url.model) == ("http://localhost:11434/v1", "llama3.2")
    with pytest.raises(ConfigurationError, match="no GGUF"):
        make_llm(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigurationError, match="LocalLLM"):
        make_llm(42)  # type: ignore[arg-type]
