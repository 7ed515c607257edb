"""Numbers in a session config are finite: NaN and Infinity have no JSON spelling (issue 9,
case 6), so a config holding one could reach neither a provider nor a client as valid JSON."""

from __future__ import annotations

import math

import pytest

from voicewire import RealtimeAgent
from voicewire.protocol import TurnDetection, VoiceConfig


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="speed must be a finite number"):
        VoiceConfig("marin", value)
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        TurnDetection("server_vad", threshold=value)
    with pytest.raises(ValueError, match="speed must be a finite number"):
        RealtimeAgent(id="a", name="A", instructions="x", voice={"speed": value})


def test_finite_numbers_and_unset_ones_are_taken() -> None:
    assert VoiceConfig("marin", 1.25).speed == 1.25
    assert VoiceConfig().speed is None
    assert TurnDetection(threshold=0.5).threshold == 0.5
