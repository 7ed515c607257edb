"""No audio format can make a framing loop spin (issue 9, case 7).

A 10 ms frame at a "rate" below 100 Hz is 0 bytes, and ``while len(pending) >= frame`` then
never ends. Three guards, each tested on its own: the neutral :class:`AudioFormat` refuses rates
outside 8000..192000 Hz, the scripted model's VAD frame is never empty (even for a format forged
past that check), and the fake server falls back to its default rate for one out of range.
"""

from __future__ import annotations

import pytest

from voicewire.protocol import AudioFormat, AudioInputAppend, ConnectOptions, SessionConfig
from voicewire.protocol.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from voicewire.testing import ScriptedModel, tones
from voicewire.testing.energy_vad import vad_frame_bytes

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("rate", [-1, 0, 1, 50, 99, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1])
def test_audio_format_refuses_rates_out_of_range(rate: int) -> None:
    with pytest.raises(ValueError, match="from 8000 to 192000 Hz"):
        AudioFormat.pcm16(rate)


@pytest.mark.parametrize("rate", [MIN_SAMPLE_RATE, 11025, 44100, 96000, MAX_SAMPLE_RATE])
def test_audio_format_takes_the_rates_in_use(rate: int) -> None:
    assert AudioFormat.pcm16(rate).sample_rate == rate


@pytest.mark.parametrize(("rate", "size"), [(1, 2), (50, 2), (99, 2), (100, 2), (8000, 160)])
def test_a_vad_frame_is_never_empty(rate: int, size: int) -> None:
    assert vad_frame_bytes(rate) == size


async def test_the_scripted_vad_does_not_spin_on_a_forged_low_rate() -> None:
    forged = AudioFormat.pcm16()
    object.__setattr__(forged, "sample_rate", 50)  # past __post_init__, as a buggy caller could
    model = ScriptedModel()
    options = ConnectOptions(session_config=SessionConfig(input_audio_format=forged))
    connection = await model.connect(options)
    try:
        connection.send(AudioInputAppend(tones.tone(20, sample_rate=8000, amplitude=0.3)))
        assert model.input_audio_bytes == 320
    finally:
        await connection.close()


@pytest.mark.parametrize("rate", [1, 99, 10**12])
def test_the_fake_server_falls_back_to_its_default_rate(rate: int) -> None:
    assert tones.format_rate({"type": "audio/pcm", "rate": rate}) == tones.DEFAULT_RATE
