"""Voice activity detection: silero VAD (the ONNX model bundled in faster-whisper), optionally
gated by webrtcvad, turned into speech start / pause / resume / end events.

Silero runs on 512-sample frames (32 ms at 16 kHz) with 64 samples of context and an LSTM state
carried from frame to frame: ~0.2 ms per frame, cheap enough to run inline as audio arrives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from ._deps import available, require, silero_vad_path

SAMPLE_RATE: Final = 16000
FRAME: Final = 512
CONTEXT: Final = 64
FRAME_MS: Final = FRAME * 1000 / SAMPLE_RATE


class SileroModel:
    """The shared ONNX session (``InferenceSession.run`` is thread-safe); state lives in
    :class:`VoiceActivityDetector`."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._session: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            ort = require("onnxruntime", "voice activity detection")
            options = ort.SessionOptions()
            options.inter_op_num_threads = 1
            options.intra_op_num_threads = 1
            options.log_severity_level = 4
            self._session = ort.InferenceSession(
                self.path or silero_vad_path(),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )

    def run(
        self, frames: NDArray[np.float32], h: NDArray[np.float32], c: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """``frames``: (n, 576) float32, each 64 context samples + 512 new ones."""
        if self._session is None:
            self.load()
        probs, h, c = self._session.run(None, {"input": frames, "h": h, "c": c})
        return np.asarray(probs, dtype=np.float32).reshape(-1), h, c


VadKind = Literal["start", "pause", "quiet", "resume", "end"]


@dataclass(frozen=True, slots=True)
class VadEvent:
    """``sample`` is a position in the 16 kHz input stream: where speech started (``start``,
    already moved back by the frames needed to confirm it) or ended (``pause``, ``quiet``,
    ``end``)."""

    kind: VadKind
    sample: int
    shortened: bool = False
    """``end``: after a silence shortened by :meth:`VoiceActivityDetector.end_silence_after`."""


class VoiceActivityDetector:
    """Per-connection VAD state machine over a 16 kHz int16 stream.

    - ``start`` after ``min_speech_ms`` of frames at or above ``threshold`` (and, with the
      webrtcvad gate, at least one of them voiced for webrtcvad too);
    - ``pause`` after ``pause_ms`` below ``threshold - 0.15`` (a hint to start work early);
    - ``quiet`` after ``check_ms`` below it, when set (time to ask whether the words sound
      finished: semantic end of turn, which then ends the turn with :meth:`force_end`);
    - ``resume`` when speech comes back after a pause;
    - ``end`` after ``silence_ms`` below it.
    """

    def __init__(
        self,
        model: SileroModel,
        *,
        threshold: float = 0.5,
        silence_ms: int = 400,
        min_speech_ms: int = 96,
        pause_ms: int = 64,
        check_ms: int | None = None,
        webrtc_gate: bool = True,
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.silence_ms = silence_ms
        self.min_speech_ms = min_speech_ms
        self.pause_ms = min(pause_ms, silence_ms)
        self.check_ms = check_ms
        self._webrtc: Any = None
        if webrtc_gate and available("webrtcvad"):
            webrtcvad = require("webrtcvad", "the webrtcvad speech gate")
            self._webrtc = webrtcvad.Vad(2)
        self.reset()

    def configure(self, *, threshold: float, silence_ms: int, check_ms: int | None = None) -> None:
        self.threshold = threshold
        self.silence_ms = silence_ms
        self.pause_ms = min(self.pause_ms, silence_ms)
        self.check_ms = check_ms

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = 0
        """Samples consumed by the model so far (a multiple of FRAME)."""
        self.speaking = False
        self._run = 0
        self._voiced = 0
        self._silent = 0
        self._paused = False
        self._quiet = False
        self._silence_limit: int | None = None
        self._speech_end = 0
        self.last_prob = 0.0

    @property
    def position(self) -> int:
        return self._position

    def feed(self, samples: NDArray[np.int16]) -> list[VadEvent]:
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = data.size // FRAME
        self._pending = data[n * FRAME :].copy()
        if n == 0:
            return []
        pcm = data[: n * FRAME]
        audio = pcm.astype(np.float32) / 32768.0
        frames = audio.reshape(n, FRAME)
        contexts = np.empty((n, CONTEXT), dtype=np.float32)
        contexts[0] = self._context
        if n > 1:
            contexts[1:] = frames[:-1, -CONTEXT:]
        self._context = frames[-1, -CONTEXT:].copy()
        probs, self._h, self._c = self.model.run(
            np.ascontiguousarray(np.concatenate([contexts, frames], axis=1)), self._h, self._c
        )
        events: list[VadEvent] = []
        for i, prob in enumerate(probs.tolist()):
            start = self._position
            self._position += FRAME
            self.last_prob = prob
            events.extend(self._step(prob, pcm[i * FRAME : (i + 1) * FRAME], start))
        return events

    def _voiced_for_webrtc(self, frame: NDArray[np.int16]) -> bool:
        if self._webrtc is None:
            return True
        try:
            return bool(self._webrtc.is_speech(frame[:480].tobytes(), SAMPLE_RATE))
        except Exception:
            return True

    def _step(self, prob: float, frame: NDArray[np.int16], start: int) -> list[VadEvent]:
        needed = max(1, round(self.min_speech_ms / FRAME_MS))
        if not self.speaking:
            if prob >= self.threshold:
                self._run += 1
                self._voiced += self._voiced_for_webrtc(frame)
                if self._run >= needed and self._voiced > 0:
                    self.speaking = True
                    self._silent = 0
                    self._paused = False
                    begin = start + FRAME - self._run * FRAME
                    self._run = self._voiced = 0
                    return [VadEvent("start", max(0, begin))]
            else:
                self._run = self._voiced = 0
            return []
        if prob >= self.threshold:
            self._silent = 0
            self._quiet = False
            self._silence_limit = None
            if self._paused:
                self._paused = False
                return [VadEvent("resume", start)]
            return []
        if prob >= max(self.threshold - 0.15, 0.01):
            return []  # neither clearly speech nor silence: keep the state
        if self._silent == 0:
            self._speech_end = start
        self._silent += 1
        silent_ms = self._silent * FRAME_MS
        if silent_ms >= (self._silence_limit or self.silence_ms):
            shortened = silent_ms < self.silence_ms
            self.speaking = False
            self._silent = 0
            self._paused = self._quiet = False
            self._silence_limit = None
            return [VadEvent("end", self._speech_end, shortened)]
        events: list[VadEvent] = []
        if not self._paused and silent_ms >= self.pause_ms:
            self._paused = True
            events.append(VadEvent("pause", self._speech_end))
        if self.check_ms is not None and not self._quiet and silent_ms >= self.check_ms:
            self._quiet = True
            events.append(VadEvent("quiet", self._speech_end))
        return events

    def end_silence_after(self, ms: int) -> None:
        """End the current silence after ``ms`` (if shorter than ``silence_ms``), unless the
        speech resumes first."""
        if self.speaking and self._silent:
            self._silence_limit = min(ms, self.silence_ms)

    def force_end(self) -> VadEvent | None:
        """End the current speech now (a commit while speaking)."""
        if not self.speaking:
            return None
        self.speaking = False
        end = self._speech_end if self._silent else self._position
        self._silent = 0
        self._paused = self._quiet = False
        self._silence_limit = None
        return VadEvent("end", end)
