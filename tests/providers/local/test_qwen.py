"""The opt-in Qwen2.5-Coder-0.5B (the ``local-qwen`` extra, installed by ``make``): assembled
from its six packages into the model cache, verified, and answering with real weights."""

from __future__ import annotations

import pytest

from voicewire.cli.models import load_model
from voicewire.protocol import ConfigurationError
from voicewire.providers.local import LocalRealtimeModel
from voicewire.providers.local.llm import LlamaCppLLM, make_llm
from voicewire.providers.local.llm.split_gguf import QWEN_CODER_05B
from voicewire.testing.answer_set import ask

from .conftest import needs_models

pytestmark = [needs_models, pytest.mark.timeout(300)]


def test_qwen_answers_a_sum_the_default_model_gets_wrong() -> None:
    llm = make_llm("qwen")
    assert isinstance(llm, LlamaCppLLM) and llm.name == QWEN_CODER_05B.name
    answer = ask(llm, "What is 17 plus 25?")
    assert "42" in answer.text, answer.text
    assert llm._llama.model_params.use_extra_bufts is False  # the same safe load as SmolLM2


def test_the_cli_names_qwen_as_local_colon_qwen() -> None:
    model = load_model("local:qwen")
    assert isinstance(model, LocalRealtimeModel)
    assert model.model_id == f"local+{QWEN_CODER_05B.name}"
    assert load_model("local").model_id == "local+smollm2-135m-instruct"  # still the default
    with pytest.raises(ConfigurationError, match="name a model"):
        load_model("local:qwen9")
