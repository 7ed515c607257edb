"""The energy voice activity detector shared by the fake realtime server and the scripted model.

Audio is cut into 10 ms frames of PCM16; a frame whose RMS (fraction of full scale) is at or above
the threshold is speech. The first loud frame starts speech, ``silence_duration_ms`` of quiet
frames after it stop it. Positions are milliseconds of input audio since the connection opened,
counted over every frame fed, whether or not detection is on (as OpenAI's ``audio_start_ms`` /
``audio_end_ms`` are), and a start is moved back by ``prefix_padding_ms`` but never before the
start of the input buffer not yet committed.

One behaviour for both fakes: before this module the scripted model counted frames as exactly
10 ms, skipped the count while turn detection was off, floored the padded start at 0, took a
``silence_duration_ms`` or ``prefix_padding_ms`` of 0 as "the default" and kept speaking through
a manual commit. It now does what the fake server did (and what OpenAI does): frames last their
real duration, every frame counts, the start is floored at the uncommitted buffer, an explicit 0
is honoured, and a commit ends the speech it committed.

The detector only keeps time and says what happened (:class:`SpeechStart`, :class:`SpeechStop`);
what is sent about it is the caller's. :meth:`EnergyVad.feed` is a generator, so a caller that
commits on a stop, before the next frame is looked at, sees the buffer start move exactly as if
the detector had committed itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from . import tones

__all__ = [
    "DEFAULT_PREFIX_PADDING_MS",
    "DEFAULT_SILENCE_MS",
    "FRAME_MS",
    "EnergyVad",
    "SpeechStart",
    "SpeechStop",
    "VadSettings",
    "vad_frame_bytes",
]

FRAME_MS = 10
"""The nominal length of one frame."""
DEFAULT_SILENCE_MS = 200
"""Quiet that ends speech when the session does not say."""
DEFAULT_PREFIX_PADDING_MS = 300
"""Audio kept before the first loud frame when the session does not say."""


def vad_frame_bytes(sample_rate: int) -> int:
    """Bytes of PCM16 in one VAD frame at ``sample_rate``: never 0, or the loop that takes
    frames off the input would spin for ever (a "rate" below 100 Hz did, freezing the server)."""
    return 2 * max(1, sample_rate * FRAME_MS // 1000)


@dataclass(frozen=True, slots=True)
class VadSettings:
    """The session's turn detection, as far as the energy detector reads it."""

    silence_duration_ms: int = DEFAULT_SILENCE_MS
    prefix_padding_ms: int = DEFAULT_PREFIX_PADDING_MS


@dataclass(frozen=True, slots=True)
class SpeechStart:
    """Speech began; ``audio_start_ms`` already includes the prefix padding."""

    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStop:
    """Speech ended after enough quiet; ``audio_end_ms`` is the end of the last frame fed."""

    audio_end_ms: int


class EnergyVad:
    """Frames, loudness and the speaking state of one connection's input audio.

    Attributes:
        input_ms: input audio fed so far (whole frames), in ms.
        pending_ms: of that, audio not yet committed or cleared, in ms.
        speaking: speech has started and not stopped.
        speech_item_id: the item id the caller gave the speech in progress (``None`` when none);
            a commit or a clear forgets it.
    """

    def __init__(self) -> None:
        self.input_ms = 0.0
        self.pending_ms = 0.0
        self.speaking = False
        self.speech_item_id: str | None = None
        self._silence_ms = 0.0
        self._remainder = b""

    def feed(
        self, pcm16: bytes, sample_rate: int, threshold: float, settings: VadSettings | None
    ) -> Iterator[SpeechStart | SpeechStop]:
        """Take PCM16 audio; yield what the detector heard, frame by frame.

        ``settings`` ``None`` means turn detection is off: frames are only counted. Iterate the
        result to the end, or the audio after the event you stopped at is not counted.
        """
        buffer = self._remainder + pcm16
        frame_samples = max(1, sample_rate * FRAME_MS // 1000)
        frame_bytes = 2 * frame_samples
        frame_ms = frame_samples * 1000 / sample_rate
        offset = 0
        while offset + frame_bytes <= len(buffer):
            frame = buffer[offset : offset + frame_bytes]
            offset += frame_bytes
            self._remainder = buffer[offset:]
            start_ms = self.input_ms
            self.input_ms += frame_ms
            self.pending_ms += frame_ms
            if settings is None:
                continue
            loud = tones.rms(frame) >= threshold
            if not self.speaking:
                if loud:
                    self.speaking = True
                    self._silence_ms = 0.0
                    buffer_start = self.input_ms - self.pending_ms
                    padded = max(buffer_start, start_ms - settings.prefix_padding_ms)
                    yield SpeechStart(round(padded))
            elif loud:
                self._silence_ms = 0.0
            else:
                self._silence_ms += frame_ms
                if self._silence_ms >= settings.silence_duration_ms:
                    self.speaking = False
                    self._silence_ms = 0.0
                    yield SpeechStop(round(self.input_ms))
        self._remainder = buffer[offset:]

    def commit(self) -> float:
        """The uncommitted audio was committed: end any speech; returns its length in ms."""
        committed = self.pending_ms
        self.pending_ms = 0.0
        self._end_speech()
        return committed

    def clear(self) -> None:
        """The uncommitted audio was thrown away, including a partial frame."""
        self.pending_ms = 0.0
        self._remainder = b""
        self._end_speech()

    def _end_speech(self) -> None:
        self.speaking = False
        self.speech_item_id = None
        self._silence_ms = 0.0
