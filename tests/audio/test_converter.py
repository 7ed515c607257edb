"""Streaming conversion between AudioFormats."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from voicewire.audio import (
    AudioConverter,
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_samples,
    pcm16_to_ulaw,
    remix_channels,
    rms_level,
    ulaw_to_pcm16,
)
from voicewire.protocol import AudioFormat

PCMU = AudioFormat.pcmu()
PCMA = AudioFormat.pcma()
PCM24 = AudioFormat.pcm16(24000)


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def peak_frequency(samples: NDArray[np.int16], rate: int) -> float:
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def stream(converter: AudioConverter, data: bytes, size: int) -> bytes:
    out = b"".join(converter.convert(data[i : i + size]) for i in range(0, len(data), size))
    return out + converter.flush()


def test_pcmu_8k_to_pcm16_24k() -> None:
    ulaw = pcm16_to_ulaw(tone(1000, 8000, 1.0))
    converter = AudioConverter(PCMU, PCM24)
    out = stream(converter, ulaw, 160)  # 20 ms telephony frames
    samples = pcm16_to_samples(out)
    assert abs(len(samples) - 24000) <= 6
    assert peak_frequency(samples, 24000) == pytest.approx(1000, abs=2)
    assert rms_level(out) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_pcm16_24k_to_pcmu_8k_with_unaligned_chunks() -> None:
    converter = AudioConverter(PCM24, PCMU)
    out = stream(converter, tone(1000, 24000, 1.0), 957)  # odd: splits samples
    assert abs(len(out) - 8000) <= 4
    decoded = pcm16_to_samples(ulaw_to_pcm16(out))
    assert peak_frequency(decoded, 8000) == pytest.approx(1000, abs=2)
    assert rms_level(ulaw_to_pcm16(out)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_chunked_equals_one_shot() -> None:
    data = tone(700, 24000, 0.5)
    one_shot = AudioConverter(PCM24, PCMA)
    expected = one_shot.convert(data) + one_shot.flush()
    assert stream(AudioConverter(PCM24, PCMA), data, 333) == expected


def test_identical_formats_pass_through_untouched() -> None:
    converter = AudioConverter(PCM24, AudioFormat.pcm16(24000))
    assert converter.passthrough
    chunk = b"\x01\x02\x03"  # even misaligned chunks are returned as they are
    assert converter.convert(chunk) is chunk
    assert converter.flush() == b""


def test_mime_aliases_are_the_same_format() -> None:
    converter = AudioConverter(AudioFormat("audio/x-mulaw", 8000, 8, 1), PCMU)
    assert converter.passthrough
    assert converter.convert(b"\x7f\x00") == b"\x7f\x00"


def test_pcmu_to_pcma_transcodes_sample_for_sample() -> None:
    ulaw = pcm16_to_ulaw(tone(1000, 8000, 0.1))
    converter = AudioConverter(PCMU, PCMA)
    assert not converter.passthrough
    out = converter.convert(ulaw)
    assert out == pcm16_to_alaw(ulaw_to_pcm16(ulaw))  # no resampling delay at equal rates
    assert converter.flush() == b""


def test_pcma_to_pcm16_same_rate_is_plain_decoding() -> None:
    alaw = pcm16_to_alaw(tone(440, 8000, 0.1))
    converter = AudioConverter(PCMA, AudioFormat.pcm16(8000))
    assert converter.convert(alaw) == alaw_to_pcm16(alaw)


def test_stereo_to_mono_averages_channels() -> None:
    left = pcm16_to_samples(tone(1000, 16000, 0.1))
    frames = np.column_stack([left, -left.astype(np.int32)]).astype("<i2")
    converter = AudioConverter(AudioFormat.pcm16(16000, 2), AudioFormat.pcm16(16000))
    assert not any(converter.convert(frames.tobytes()))
    same = np.column_stack([left, left]).astype("<i2").tobytes()
    assert converter.convert(same) == left.astype("<i2").tobytes()


def test_mono_to_stereo_duplicates() -> None:
    mono = tone(1000, 16000, 0.05)
    converter = AudioConverter(AudioFormat.pcm16(16000), AudioFormat.pcm16(16000, 2))
    frames = pcm16_to_samples(converter.convert(mono)).reshape(-1, 2)
    assert frames[:, 0].tolist() == frames[:, 1].tolist() == pcm16_to_samples(mono).tolist()


def test_stereo_48k_to_mono_pcmu_with_seven_byte_chunks() -> None:
    left = pcm16_to_samples(tone(1000, 48000, 0.2))
    interleaved = np.column_stack([left, left]).astype("<i2").tobytes()
    converter = AudioConverter(AudioFormat.pcm16(48000, 2), PCMU)
    out = stream(converter, interleaved, 7)  # 7 bytes: frames of 4 split every which way
    assert abs(len(out) - 1600) <= 4
    assert peak_frequency(pcm16_to_samples(ulaw_to_pcm16(out)), 8000) == pytest.approx(1000, abs=5)


def test_partial_frames_are_carried_then_dropped_by_flush() -> None:
    converter = AudioConverter(AudioFormat.pcm16(16000, 2), AudioFormat.pcm16(16000))
    assert converter.convert(b"\x01\x00\x03") == b""
    assert converter.pending_bytes == 3
    assert converter.convert(b"\x00") == np.array([2], "<i2").tobytes()
    assert converter.pending_bytes == 0
    converter.convert(b"\x01\x00")
    assert converter.pending_bytes == 2
    assert converter.flush() == b""
    assert converter.pending_bytes == 0


def test_remix_channels() -> None:
    three = np.array([[30, 60, 90], [-3, 3, 9]], dtype=np.int16)
    assert remix_channels(three, 1).tolist() == [[60], [3]]
    # Fewer channels: output j averages inputs i with i % 2 == j.
    assert remix_channels(three, 2).tolist() == [[60, 60], [3, 3]]
    stereo = np.array([[1, 2]], dtype=np.int16)
    assert remix_channels(stereo, 4).tolist() == [[1, 2, 1, 2]]
    assert remix_channels(stereo, 2) is stereo
    # Averaging must not overflow int16.
    loud = np.array([[32767, 32767]], dtype=np.int16)
    assert remix_channels(loud, 1).tolist() == [[32767]]
