"""Streaming resampling with soxr."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from voicewire.audio import Resampler, pcm16_to_samples, rms_level


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def peak_frequency(samples: NDArray[np.int16], rate: int) -> float:
    """Frequency of the strongest FFT bin (Hann-windowed)."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def run_chunked(resampler: Resampler, data: bytes, sizes: list[int]) -> bytes:
    out = bytearray()
    pos, i = 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        piece = resampler.process(data[pos : pos + size])
        assert len(piece) % (2 * resampler.channels) == 0, "output must be whole frames"
        out += piece
        pos += size
        i += 1
    out += resampler.flush()
    return bytes(out)


def test_downsample_keeps_frequency_level_and_length() -> None:
    resampler = Resampler(24000, 16000)
    out = resampler.process(tone(1000, 24000, 1.0)) + resampler.flush()
    samples = pcm16_to_samples(out)
    assert abs(len(samples) - 16000) <= 4
    assert peak_frequency(samples, 16000) == pytest.approx(1000, abs=2)
    assert rms_level(out) == pytest.approx(rms_level(tone(1000, 24000, 1.0)), rel=0.02)


def test_upsample_keeps_frequency_and_length() -> None:
    resampler = Resampler(8000, 24000)
    out = resampler.process(tone(440, 8000, 0.5)) + resampler.flush()
    samples = pcm16_to_samples(out)
    assert abs(len(samples) - 12000) <= 4
    assert peak_frequency(samples, 24000) == pytest.approx(440, abs=3)


def test_output_is_aligned_in_time_with_input() -> None:
    # soxr's (linear-phase) delay must be compensated: the tone's onset stays where it was.
    silence_then_tone = bytes(2 * 2400) + tone(1000, 24000, 0.2)
    resampler = Resampler(24000, 16000)
    out = pcm16_to_samples(resampler.process(silence_then_tone) + resampler.flush())
    onset = int(np.argmax(np.abs(out) > 1000))
    assert abs(onset - 1600) <= 8  # 100 ms at 16 kHz


def test_drops_content_above_the_new_nyquist() -> None:
    # 7 kHz cannot exist at 8 kHz; it must be filtered out, not folded back to 1 kHz.
    resampler = Resampler(24000, 8000)
    out = resampler.process(tone(7000, 24000, 0.5)) + resampler.flush()
    assert rms_level(out) < 0.01


def test_chunked_streaming_equals_one_shot() -> None:
    data = tone(1000, 24000, 0.5) + tone(3000, 24000, 0.25)
    reference = Resampler(24000, 16000)
    one_shot = pcm16_to_samples(reference.process(data) + reference.flush())
    chunked = pcm16_to_samples(run_chunked(Resampler(24000, 16000), data, [960, 333, 2, 4801]))
    assert len(chunked) == len(one_shot)
    assert np.max(np.abs(chunked.astype(np.int32) - one_shot)) <= 1


def test_odd_byte_chunks_carry_the_dangling_byte() -> None:
    data = tone(1000, 16000, 0.2)
    resampler = Resampler(16000, 24000)
    head = resampler.process(data[:101])
    assert resampler.pending_bytes == 1
    rest = resampler.process(data[101:])
    assert resampler.pending_bytes == 0
    assert len(head) % 2 == 0
    assert len(rest) % 2 == 0

    reference = Resampler(16000, 24000)
    expected = reference.process(data) + reference.flush()
    chunked = run_chunked(Resampler(16000, 24000), data, [1, 3, 7, 255])
    assert chunked == expected


def test_silence_stays_exactly_silent() -> None:
    # soxr's int16 output path dithers; silence must not turn into ±1 hiss.
    resampler = Resampler(24000, 16000)
    out = resampler.process(bytes(48000)) + resampler.flush()
    assert len(out) > 0
    assert not any(out)


def test_loud_input_is_clipped_not_wrapped() -> None:
    # A full-scale square wave rings past full scale when filtered; those samples must clip to
    # ±32767/32768 instead of wrapping around to the opposite sign.
    period = 240  # 100 Hz at 24 kHz
    square = np.tile(np.r_[np.full(period // 2, 32767), np.full(period // 2, -32768)], 20)
    resampler = Resampler(24000, 16000)
    out = pcm16_to_samples(resampler.process(square.astype("<i2").tobytes()) + resampler.flush())
    assert out.max() == 32767
    assert out.min() == -32768
    out_period = 160
    for start in range(2 * out_period, len(out) - 2 * out_period, out_period):
        assert np.all(out[start + 20 : start + 60] > 0)
        assert np.all(out[start + 100 : start + 140] < 0)


def test_stereo_keeps_channels_apart() -> None:
    left = pcm16_to_samples(tone(500, 48000, 0.5))
    right = pcm16_to_samples(tone(2000, 48000, 0.5))
    interleaved = np.column_stack([left, right]).astype("<i2").tobytes()
    resampler = Resampler(48000, 16000, channels=2)
    out = run_chunked(resampler, interleaved, [1001, 6])
    frames = pcm16_to_samples(out).reshape(-1, 2)
    assert abs(len(frames) - 8000) <= 4
    assert peak_frequency(frames[:, 0], 16000) == pytest.approx(500, abs=3)
    assert peak_frequency(frames[:, 1], 16000) == pytest.approx(2000, abs=3)


def test_same_rate_passes_through_with_frame_alignment() -> None:
    resampler = Resampler(16000, 16000)
    assert resampler.passthrough
    data = tone(1000, 16000, 0.01)
    assert resampler.process(data) == data
    assert resampler.process(data[:5]) == data[:4]
    assert resampler.pending_bytes == 1
    assert resampler.process(data[5:]) == data[4:]
    assert resampler.flush() == b""


def test_flush_drops_a_partial_frame_and_makes_the_resampler_reusable() -> None:
    data = tone(1000, 24000, 0.1)
    resampler = Resampler(24000, 16000)
    first = resampler.process(data + b"\x01") + resampler.flush()
    assert resampler.pending_bytes == 0
    second = resampler.process(data) + resampler.flush()
    assert first == second
    assert len(first) > 0


def test_reset_discards_state() -> None:
    resampler = Resampler(24000, 16000)
    resampler.process(tone(1000, 24000, 0.1) + b"\x01")
    resampler.reset()
    assert resampler.pending_bytes == 0
    assert not any(resampler.process(bytes(4800)) + resampler.flush())


def test_process_samples_checks_channels() -> None:
    resampler = Resampler(24000, 16000, channels=2)
    with pytest.raises(ValueError, match="2 channels"):
        resampler.process_samples(np.zeros((10, 3), dtype=np.int16))
    with pytest.raises(ValueError, match="mono"):
        resampler.process_samples(np.zeros(10, dtype=np.int16))


@pytest.mark.parametrize(
    ("from_rate", "to_rate", "channels"), [(0, 16000, 1), (16000, -1, 1), (8000, 16000, 0)]
)
def test_invalid_arguments(from_rate: int, to_rate: int, channels: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        Resampler(from_rate, to_rate, channels)
