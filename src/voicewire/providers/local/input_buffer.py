"""The 16 kHz input audio of one local session, addressed by absolute sample position."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class InputBuffer:
    """The 16 kHz input stream with absolute sample positions; old audio is trimmed away."""

    def __init__(self) -> None:
        self._chunks: list[NDArray[np.int16]] = []
        self.start = 0
        self.end = 0

    def append(self, samples: NDArray[np.int16]) -> None:
        if samples.size:
            self._chunks.append(samples)
            self.end += samples.size

    def _joined(self) -> NDArray[np.int16]:
        if len(self._chunks) != 1:
            joined = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            self._chunks = [joined] if joined.size else []
        return self._chunks[0] if self._chunks else np.zeros(0, np.int16)

    def slice(self, begin: int, end: int) -> NDArray[np.int16]:
        data = self._joined()
        a = max(begin, self.start) - self.start
        b = min(end, self.end) - self.start
        return data[a:b] if b > a else np.zeros(0, np.int16)

    def trim_before(self, position: int) -> None:
        if position <= self.start:
            return
        data = self._joined()
        cut = min(position, self.end) - self.start
        rest = data[cut:]
        self._chunks = [rest] if rest.size else []
        self.start += cut

    def clear(self) -> None:
        self._chunks = []
        self.start = self.end
