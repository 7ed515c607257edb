"""The loaded models, once per process: every session and every ``realtime()`` with the same
settings shares them. Loading is slow (seconds) and runs in a worker thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from . import smart_turn
from .llm import LocalLLM
from .stt import WhisperSTT
from .tts import PiperTTS, voice_path
from .vad import SileroModel

T = TypeVar("T")

_REGISTRY: dict[tuple[object, ...], object] = {}
_LOCK = threading.Lock()


def shared(key: tuple[object, ...], make: Callable[[], T]) -> T:
    with _LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = make()
            _REGISTRY[key] = found
        return found  # type: ignore[return-value]


def _abs(path: str | os.PathLike[str] | None) -> str | None:
    return os.path.abspath(os.fspath(path)) if path is not None else None


def shared_vad(path: str | os.PathLike[str] | None = None) -> SileroModel:
    p = _abs(path)
    return shared(("vad", p), lambda: SileroModel(p))


def shared_stt(
    path: str | os.PathLike[str] | None = None, threads: int | None = None
) -> WhisperSTT:
    """Whisper for the sessions; ``threads`` ``None``: half the cores (see :func:`stt_threads`)."""
    p = _abs(path)
    count = threads if threads is not None else stt_threads()
    return shared(("stt", p, count), lambda: WhisperSTT(p, cpu_threads=count))


def stt_threads() -> int:
    """Whisper's threads by default: half the cores, at least one. On two cores tiny.en on a
    short question (its 6 s window) took 0.07 s on one thread and 0.09-0.11 s on two: for so
    small a model the second thread costs more than it brings, and a core stays free for the
    rest of the pipeline (Smart Turn's judgement, another session)."""
    return max(1, (os.cpu_count() or 2) // 2)


def shared_tts(
    path: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> PiperTTS:
    p, c = _abs(path), _abs(config_path)
    return shared(("tts", p, c, threads), lambda: PiperTTS(p, c, threads=threads))


Progress = Callable[[str, float], None]
"""Told each model's label and the seconds its load took, as soon as it is loaded."""


@dataclass
class Engines:
    """The four models a local session runs, and the process's Smart Turn model when it is
    installed (``semantic_vad``, the default turn detection then). ``loads`` counts the times
    :meth:`load` actually loaded them (0 or 1): a server that loads before it listens leaves
    nothing to its first session."""

    vad: SileroModel
    stt: WhisperSTT
    tts: PiperTTS
    llm: LocalLLM
    loads: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def loaded(self) -> bool:
        return self.loads > 0

    def labels(self) -> list[tuple[str, Callable[[], None]]]:
        """Each model's label (for progress lines) and its ``load``."""
        voice = os.path.basename(self.tts.model_path or "joe (en_US, medium)")
        labels = [
            ("voice activity detection (silero)", self.vad.load),
            ("speech to text (whisper tiny.en)", self.stt.load),
            (f"language model ({self.llm.name})", self.llm.load),
            (f"text to speech (piper, {voice})", self.tts.load),
        ]
        if smart_turn.available():
            labels.append(
                ("semantic end of turn (smart-turn v3.2)", smart_turn.shared_smart_turn().load)
            )
        return labels

    def speaking(self, voice_id: str | None, voices_dir: str | None = None) -> Engines:
        """These engines with the piper voice ``voice_id`` names in ``voices_dir`` (by name, or
        by a path inside it; its ``.onnx.json`` beside the ``.onnx``); these engines otherwise
        (their voice speaks ``joe`` and any other voice name). A missing file, or a file outside
        ``voices_dir``, is a :class:`~voicewire.protocol.ConfigurationError`."""
        path = voice_path(voice_id, voices_dir)
        if path is None or path == self.tts.model_path:
            return self
        voiced = replace(self, tts=shared_tts(path, None, self.tts.threads))
        voiced.loads = self.loads
        return voiced

    def load(self, progress: Progress | None = None) -> None:
        """Load everything (idempotent, thread-safe); call it off the event loop."""
        with self._lock:
            if self.loaded:
                return
            for label, load in self.labels():
                started = time.perf_counter()
                load()
                if progress is not None:
                    progress(label, time.perf_counter() - started)
            self.loads += 1
