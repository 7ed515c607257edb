"""The pause set: utterances with a pause in the middle of a sentence, and complete questions,
spoken offline by piper (the bundled joe voice, without its random variation, so every run hears
the same audio).

A paused utterance is the whole sentence spoken in one go and cut at a word boundary, with
silence put in the cut: the first half keeps the intonation of a sentence that goes on, as a
speaker's does when they stop to think (synthesising the first half on its own would end it with
a final fall). The cut is found by aligning the whole sentence with its first half said on its
own (dynamic time warping of their spectra), then moved to the quietest 10 ms nearby; whisper's
word timestamps (tiny.en) were too coarse for it, cutting into the next word.

Used by ``benchmarks/local_latency.py`` (premature ends of turn) and by the local model's tests
(``tests/providers/local/test_semantic_turns.py``), which load this file by its path.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr
from numpy.typing import NDArray

PAUSE_S = 0.7
PAUSED: list[tuple[str, str]] = [
    ("I'd like to book a table for", "four people tonight."),
    ("Can you remind me to call my", "sister tomorrow morning?"),
    ("I want to buy a new pair of", "running shoes for the summer."),
    ("What is the best way to get from the airport to", "the city centre?"),
    ("My favourite thing to do at the weekend is", "walking in the park."),
    ("Could you tell me more about the", "history of the Roman empire?"),
    ("So I was thinking that maybe we could", "go to the beach on Saturday."),
    ("The thing I really need right now is", "a cup of hot coffee."),
]
COMPLETE: list[str] = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What should I cook for dinner tonight?",
    "Where do penguins live?",
    "Tell me something about the moon.",
    "What time of year is best for a holiday?",
]


@dataclass(frozen=True)
class Utterance:
    text: str
    """What is said (for a paused one: both halves)."""
    samples: NDArray[np.int16]
    """At the synthesiser's rate."""
    rate: int
    pause_at: int | None = None
    """Paused: the sample where the silence starts in :attr:`samples`."""
    first: str = ""
    second: str = ""

    def pcm(self, rate: int) -> bytes:
        audio = soxr.resample(self.samples.astype(np.float32) / 32768.0, self.rate, rate)
        return bytes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


def _trim(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    loud = np.flatnonzero(np.abs(samples) > 300)
    return samples[int(loud[0]) : int(loud[-1]) + 1]


class PauseSet:
    """Synthesises the set with ``tts`` (a :class:`~voicewire.providers.local.tts.PiperTTS`)."""

    def __init__(self, tts: Any) -> None:
        self.tts = tts

    def complete(self, text: str) -> Utterance:
        samples = _trim(self.tts.synthesize(text, variation=False))
        return Utterance(text, samples, self.tts.sample_rate)

    def paused(self, first: str, second: str, pause_s: float = PAUSE_S) -> Utterance:
        rate = self.tts.sample_rate
        whole = _trim(self.tts.synthesize(f"{first} {second}", variation=False))
        alone = _trim(self.tts.synthesize(first, variation=False))
        cut = boundary(whole, alone, rate)
        gap = np.zeros(int(pause_s * rate), dtype=np.int16)
        samples = np.concatenate([whole[:cut], gap, whole[cut:]])
        return Utterance(f"{first} {second}", samples, rate, cut, first, second)


def _log_mel(samples: NDArray[np.int16], rate: int) -> NDArray[np.float64]:
    """Log power in 40 bands per 10 ms (enough to align two renditions of the same words)."""
    audio = samples.astype(np.float64) / 32768.0
    hop, size = rate // 100, 512
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(audio, (0, size)), size)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    edges = np.geomspace(80, rate / 2, 41) * size / rate
    bands = [
        power[:, int(low) : max(int(high), int(low) + 1)].sum(axis=1)
        for low, high in itertools.pairwise(edges)
    ]
    return np.log(np.stack(bands, axis=1) + 1e-9)


def boundary(whole: NDArray[np.int16], alone: NDArray[np.int16], rate: int) -> int:
    """Where, in ``whole``, the words of ``alone`` (its beginning said on its own) end: dynamic
    time warping of the two (open at the end of ``whole``), then the quietest 10 ms nearby."""
    a, b = _log_mel(alone, rate), _log_mel(whole, rate)
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    total = np.full_like(cost, np.inf)
    total[0] = np.cumsum(cost[0])
    for i in range(1, len(a)):
        diagonal = np.concatenate([[np.inf], total[i - 1, :-1]])
        best = np.minimum(diagonal, total[i - 1]) + cost[i]
        row = np.empty_like(best)
        row[0] = best[0]
        for j in range(1, len(best)):
            row[j] = min(best[j], row[j - 1] + cost[i, j])
        total[i] = row
    hop = rate // 100
    end = int(np.argmin(total[-1] / (np.arange(len(b)) + len(a)))) * hop
    step = hop
    windows = range(max(end - 4 * hop, step), min(end + 4 * hop, whole.size - step), step // 2)
    energy = [float(np.mean(np.square(whole[i : i + step], dtype=np.float64))) for i in windows]
    return windows[int(np.argmin(energy))] + step // 2
