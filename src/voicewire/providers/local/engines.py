"""The loaded models, once per process: every session and every ``realtime()`` with the same
settings shares them. Loading is slow (seconds) and runs in a worker thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .llm import LocalLLM
from .stt import WhisperSTT
from .tts import PiperTTS
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
    p = _abs(path)
    return shared(("stt", p, threads), lambda: WhisperSTT(p, cpu_threads=threads))


def shared_tts(
    path: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> PiperTTS:
    p, c = _abs(path), _abs(config_path)
    return shared(("tts", p, c, threads), lambda: PiperTTS(p, c, threads=threads))


@dataclass
class Engines:
    vad: SileroModel
    stt: WhisperSTT
    tts: PiperTTS
    llm: LocalLLM

    def load(self) -> None:
        """Load everything (idempotent, thread-safe); call it off the event loop."""
        self.vad.load()
        self.stt.load()
        self.tts.load()
        self.llm.load()
