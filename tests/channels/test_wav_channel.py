"""WavChannel and the WAV reader: formats, pacing, trailing silence, errors, playback model."""

from __future__ import annotations

import asyncio
import struct
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from voicewire.audio import pcm16_to_alaw, pcm16_to_samples, pcm16_to_ulaw
from voicewire.channels import WavChannel, read_wav, write_wav
from voicewire.protocol import (
    AudioFormat,
    ConfigurationError,
    ConnectionClosedError,
    PlaybackPosition,
    RealtimeChannel,
)

pytestmark = pytest.mark.timeout(20)

PCM24K = AudioFormat.pcm16(24000)


# -- helpers ----------------------------------------------------------------------------------


def sine(ms: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> NDArray[np.float64]:
    t = np.arange(round(rate * ms / 1000)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def write_int_wav(path: Path, signal: NDArray[np.float64], rate: int, width: int) -> Path:
    """Write float samples (frames,) or (frames, channels) as integer PCM through ``wave``."""
    frames = signal.reshape(len(signal), -1)
    full = 2 ** (8 * width - 1)
    ints = np.clip(np.rint(frames * (full - 1)), -full, full - 1).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        little = ints.astype("<i8").view(np.uint8).reshape(-1, 8)[:, :width]
        raw = little.tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(raw)
    return path


def riff(fmt_body: bytes, data: bytes, extra_chunks: bytes = b"") -> bytes:
    """A RIFF/WAVE file built by hand: fmt chunk, optional extra chunks, data chunk."""
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra_chunks
    body += b"data" + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int, channels: int, rate: int, bits: int, extra: bytes | None = None) -> bytes:
    align = channels * bits // 8
    head = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    return head if extra is None else head + struct.pack("<H", len(extra)) + extra


def extensible(tag: int, channels: int, rate: int, bits: int) -> bytes:
    guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    extra = struct.pack("<HI", bits, 0) + guid
    return fmt_chunk(0xFFFE, channels, rate, bits, extra)


def write_float_wav(path: Path, signal: NDArray[np.float64], rate: int) -> Path:
    frames = signal.reshape(len(signal), -1)
    data = frames.astype("<f4").tobytes()
    # An odd-sized chunk before the data checks the RIFF padding rule.
    junk = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    fmt = fmt_chunk(3, frames.shape[1], rate, 32, extra=b"")
    fact = b"fact" + struct.pack("<II", 4, len(frames))
    path.write_bytes(riff(fmt, data, fact + junk))
    return path


def peak_hz(pcm16: bytes, rate: int) -> float:
    samples = pcm16_to_samples(pcm16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


class Sink:
    """An AudioSink that records what the channel sends, in order."""

    def __init__(
        self, input_format: AudioFormat = PCM24K, output_format: AudioFormat = PCM24K
    ) -> None:
        self._input = input_format
        self._output = output_format
        self.log: list[bytes | str] = []
        self.times: list[float] = []

    @property
    def input_format(self) -> AudioFormat:
        return self._input

    @property
    def output_format(self) -> AudioFormat:
        return self._output

    def send_audio(self, audio: bytes) -> None:
        self.log.append(audio)
        self.times.append(time.monotonic())

    def commit(self) -> None:
        self.log.append("commit")

    @property
    def audio(self) -> bytes:
        return b"".join(x for x in self.log if isinstance(x, bytes))


async def feed(path: Path, sink: Sink | None = None, **options: object) -> tuple[Sink, WavChannel]:
    sink = sink or Sink()
    options.setdefault("realtime", False)
    options.setdefault("trailing_silence_ms", 0)
    channel = WavChannel(path, **options)  # type: ignore[arg-type]
    await channel.start(sink)
    await channel.wait_sent()
    await channel.close()
    return sink, channel


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def with_clock(channel: WavChannel) -> FakeClock:
    clock = FakeClock()
    channel._clock = clock
    return clock


# -- reading and converting formats -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rate", "width", "channels"),
    [
        ("8k int16 stereo", 8000, 2, 2),
        ("44.1k 24-bit mono", 44100, 3, 1),
        ("16k 8-bit mono", 16000, 1, 1),
        ("22.05k 32-bit int stereo", 22050, 4, 2),
    ],
)
async def test_integer_pcm_becomes_24k_pcm16_mono(
    tmp_path: Path, name: str, rate: int, width: int, channels: int
) -> None:
    tone = sine(500, rate)
    signal = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = write_int_wav(tmp_path / "in.wav", signal, rate, width)
    sink, channel = await feed(path)
    assert channel.source.sample_rate == rate
    assert channel.source.channels == channels
    assert channel.source.encoding == f"PCM {8 * width}-bit"
    audio = sink.audio
    assert abs(len(audio) / 48 - 500) <= 5  # ms, at 24 kHz mono
    assert abs(peak_hz(audio, 24000) - 440) < 5
    level = np.sqrt(np.mean(pcm16_to_samples(audio).astype(np.float64) ** 2)) / 32768
    assert 0.3 < level < 0.4  # a 0.5 amplitude sine: RMS 0.354; 8-bit quantization is coarse


async def test_float32_48k_stereo_becomes_24k_mono(tmp_path: Path) -> None:
    left, right = sine(500, 48000), sine(500, 48000, amp=0.25)
    path = write_float_wav(tmp_path / "float.wav", np.stack([left, right], axis=1), 48000)
    sink, channel = await feed(path)
    assert channel.source.encoding == "IEEE float 32-bit"
    assert channel.source.channels == 2
    assert abs(len(sink.audio) / 48 - 500) <= 5
    assert abs(peak_hz(sink.audio, 24000) - 440) < 5
    peak = np.max(np.abs(pcm16_to_samples(sink.audio))) / 32768
    assert 0.35 < peak < 0.39  # the mono mix averages 0.5 and 0.25


def test_float_wav_values_and_clipping(tmp_path: Path) -> None:
    values = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, np.nan], dtype=np.float64)
    path = write_float_wav(tmp_path / "f.wav", values, 16000)
    audio = read_wav(path)
    assert audio.samples[:, 0].tolist() == [0, 16384, -16384, 32767, -32768, 32767, 0]


def test_integer_scaling_is_exact_and_rounded(tmp_path: Path) -> None:
    # 8-bit is unsigned around 128; 24-bit and 32-bit are rounded to 16 bits.
    eight = riff(fmt_chunk(1, 1, 8000, 8), bytes([128, 255, 0, 129]))
    (tmp_path / "8.wav").write_bytes(eight)
    assert read_wav(tmp_path / "8.wav").samples[:, 0].tolist() == [0, 32512, -32768, 256]
    ints24 = [0x000080, 0x00007F, 0x7FFFFF, 0x800000, 0xFFFF80]  # 0.5 LSB up, down, max, min
    data24 = b"".join(v.to_bytes(3, "little") for v in ints24)
    (tmp_path / "24.wav").write_bytes(riff(fmt_chunk(1, 1, 8000, 24), data24))
    assert read_wav(tmp_path / "24.wav").samples[:, 0].tolist() == [1, 0, 32767, -32768, 0]
    data32 = struct.pack("<3i", 1 << 16, -(1 << 31), (1 << 31) - 1)
    (tmp_path / "32.wav").write_bytes(riff(fmt_chunk(1, 1, 8000, 32), data32))
    assert read_wav(tmp_path / "32.wav").samples[:, 0].tolist() == [1, -32768, 32767]


@pytest.mark.parametrize("tag", [1, 3])
def test_wave_format_extensible(tmp_path: Path, tag: int) -> None:
    """24-bit PCM and float as WAVE_FORMAT_EXTENSIBLE, which Python 3.11's wave refuses."""
    signal = sine(100, 16000)
    if tag == 1:
        ints = np.rint(signal * (2**23 - 1)).astype("<i4")
        data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        fmt = extensible(1, 1, 16000, 24)
    else:
        data = signal.astype("<f4").tobytes()
        fmt = extensible(3, 1, 16000, 32)
    path = tmp_path / "ext.wav"
    path.write_bytes(riff(fmt, data))
    audio = read_wav(path)
    assert audio.frames == 1600 and audio.sample_rate == 16000
    expected = np.rint(signal * 32767)
    assert np.max(np.abs(audio.samples[:, 0] - expected)) <= 1


@pytest.mark.parametrize(("tag", "encode"), [(7, pcm16_to_ulaw), (6, pcm16_to_alaw)])
async def test_g711_wav(tmp_path: Path, tag: int, encode: object) -> None:
    pcm = np.rint(sine(300, 8000) * 32767).astype("<i2").tobytes()
    path = tmp_path / "g711.wav"
    path.write_bytes(riff(fmt_chunk(tag, 1, 8000, 8), encode(pcm)))  # type: ignore[operator]
    sink, channel = await feed(path)
    assert channel.source.encoding == ("G.711 mu-law" if tag == 7 else "G.711 A-law")
    assert abs(len(sink.audio) / 48 - 300) <= 5
    assert abs(peak_hz(sink.audio, 24000) - 440) < 5


async def test_converts_to_a_g711_session_format(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(300, 24000), 24000, 2)
    sink, _ = await feed(path, Sink(input_format=AudioFormat.pcmu()), trailing_silence_ms=100)
    assert abs(len(sink.audio) / 8 - 400) <= 5  # 8 bytes per ms
    assert sink.audio.endswith(b"\xff" * 800)  # μ-law silence
    assert all(len(c) == 160 for c in sink.log[:-1])  # 20 ms of 8 kHz G.711


# -- errors -------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(ConfigurationError, match="does not exist") as info:
        WavChannel(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("random", bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)), "RIFF"),
        ("empty", b"", "too short"),
        ("cut in fmt", riff(fmt_chunk(1, 1, 8000, 16), bytes(100))[:30], "fmt chunk is truncated"),
        ("no data", riff(fmt_chunk(1, 1, 8000, 16), bytes(100))[:40], "no data chunk"),
        ("no audio", riff(fmt_chunk(1, 1, 8000, 16), b""), "no audio"),
        ("adpcm", riff(fmt_chunk(2, 1, 8000, 4), bytes(100)), "ADPCM"),
        ("float16", riff(fmt_chunk(3, 1, 8000, 16), bytes(100)), "float"),
        ("zero channels", riff(fmt_chunk(3, 0, 8000, 32), bytes(100)), "0 channels"),
        ("zero rate", riff(fmt_chunk(3, 1, 0, 32), bytes(100)), "0 Hz"),
        ("bad align", riff(fmt_chunk(3, 1, 8000, 32)[:12] + b"\x03\x00\x20\x00", b""), "bytes"),
        ("rf64", b"RF64" + riff(fmt_chunk(1, 1, 8000, 16), bytes(10))[4:], "RF64"),
    ],
)
def test_corrupt_or_unsupported_file(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    path = tmp_path / f"{name}.wav"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as info:
        WavChannel(path)
    message = str(info.value)
    assert str(path) in message
    assert problem in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_directory_is_not_a_wav(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read") as info:
        WavChannel(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_bad_options_and_output_path(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    with pytest.raises(ConfigurationError, match="chunk_ms"):
        WavChannel(path, chunk_ms=0)
    with pytest.raises(ConfigurationError, match="trailing_silence_ms"):
        WavChannel(path, trailing_silence_ms=-1)
    missing = tmp_path / "no" / "out.wav"
    with pytest.raises(ConfigurationError, match="missing") as info:
        WavChannel(path, missing)
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigurationError, match="directory"):
        WavChannel(path, tmp_path)


# -- feeding: pacing, trailing silence, commit -----------------------------------------------------


async def test_realtime_pacing_takes_the_audio_duration(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(300, 24000), 24000, 2)
    sink = Sink()
    channel = WavChannel(path, realtime=True, trailing_silence_ms=0)
    began = time.monotonic()
    await channel.start(sink)
    assert not channel.finished.is_set()
    await channel.wait_sent()
    elapsed = time.monotonic() - began
    assert elapsed >= 0.25
    assert channel.finished.is_set()
    assert len(sink.audio) == 300 * 48
    assert [len(c) for c in sink.log] == [20 * 48] * 15
    # chunks arrive spread over the duration, not in one burst
    assert sink.times[-1] - sink.times[0] >= 0.2
    await channel.close()


async def test_fast_mode_does_not_wait(tmp_path: Path) -> None:
    # 5 minutes of audio: paced, it would outlast the test's timeout (no clock is read here)
    path = write_int_wav(tmp_path / "in.wav", sine(300_000, 24000), 24000, 2)
    sink, channel = await feed(path, realtime=False, trailing_silence_ms=800)
    assert channel.bytes_sent == len(sink.audio) == 300_800 * 48


async def test_trailing_silence_then_no_commit_by_default(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(200, 24000), 24000, 2)
    sink, channel = await feed(path, trailing_silence_ms=800)
    assert len(sink.audio) == 1000 * 48
    assert sink.audio[200 * 48 :] == bytes(800 * 48)
    assert np.any(pcm16_to_samples(sink.audio[: 200 * 48]) != 0)
    assert "commit" not in sink.log
    assert channel.finished.is_set()


async def test_commit_at_end_comes_after_all_audio(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(100, 24000), 24000, 2)
    sink, _ = await feed(path, trailing_silence_ms=200, commit_at_end=True, chunk_ms=40)
    assert sink.log[-1] == "commit"
    assert sink.log.count("commit") == 1
    assert len(sink.audio) == 300 * 48
    assert [len(c) for c in sink.log[:-1]] == [40 * 48] * 7 + [20 * 48]


async def test_close_stops_the_feeder(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(2000, 24000), 24000, 2)
    sink = Sink()
    channel = WavChannel(path, realtime=True)
    with pytest.raises(RuntimeError, match="start"):
        await channel.wait_sent()
    await channel.start(sink)
    waiter = asyncio.create_task(channel.wait_sent())
    await asyncio.sleep(0.05)
    await channel.close()
    with pytest.raises(ConnectionClosedError, match="closed before"):
        await waiter
    assert not channel.finished.is_set()
    sent = len(sink.audio)
    await asyncio.sleep(0.05)
    assert len(sink.audio) == sent < 2000 * 48
    with pytest.raises(ConnectionClosedError):
        await channel.start(sink)


async def test_a_failing_sink_surfaces_in_wait_sent(tmp_path: Path) -> None:
    class Closed(Sink):
        def send_audio(self, audio: bytes) -> None:
            raise ConnectionClosedError("session closed")

    path = write_int_wav(tmp_path / "in.wav", sine(100, 24000), 24000, 2)
    channel = WavChannel(path, realtime=False)
    await channel.start(Closed())
    with pytest.raises(ConnectionClosedError, match="session closed"):
        await channel.wait_sent()
    await channel.close()


# -- playback ------------------------------------------------------------------------------------


async def test_is_a_realtime_channel(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    assert isinstance(WavChannel(path), RealtimeChannel)


async def test_fast_mode_counts_everything_received_as_heard(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    out = tmp_path / "out.wav"
    channel = WavChannel(path, out, realtime=False, trailing_silence_ms=0)
    assert channel.playback_position() is None
    await channel.start(Sink())
    reply = np.rint(sine(300, 24000) * 32767).astype("<i2").tobytes()
    channel.play("item_1", reply[: 100 * 48])
    channel.play("item_1", reply[100 * 48 :])
    position = channel.playback_position()
    assert position is not None
    assert (position.item_id, position.audio_end_ms, position.content_index) == ("item_1", 300, 0)
    channel.interrupt()  # nothing unheard: the recording keeps everything
    assert channel.recorded == reply
    await channel.close()
    with wave.open(str(out), "rb") as written:
        assert (written.getnchannels(), written.getsampwidth()) == (1, 2)
        assert written.getframerate() == 24000
        assert written.readframes(written.getnframes()) == reply
    assert channel.reply_ms == 300


async def test_realtime_playback_position_and_interrupt(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    out = tmp_path / "out.wav"
    channel = WavChannel(path, out, realtime=True, trailing_silence_ms=0)
    clock = with_clock(channel)
    await channel.start(Sink())
    reply = np.rint(sine(1000, 24000) * 32767).astype("<i2").tobytes()
    channel.play("item_1", reply, content_index=0)  # a whole second arrives at once
    assert channel.playback_position() == _pos("item_1", 0)
    clock.now += 0.3
    assert channel.playback_position() == _pos("item_1", 300)
    channel.interrupt()
    assert channel.recorded == reply[: 300 * 48]
    clock.now += 2.0
    assert channel.playback_position() == _pos("item_1", 300)  # stays where it was cut
    channel.play("item_1", reply[:4800])  # late audio of the cut item is ignored
    assert channel.reply_ms == 300
    channel.play("item_2", reply[: 200 * 48])
    assert channel.playback_position() == _pos("item_2", 0)
    clock.now += 0.5
    assert channel.playback_position() == _pos("item_2", 200)  # never beyond what arrived
    await channel.close()
    assert read_wav(out).frames == 500 * 24


async def test_realtime_playback_queues_items_and_pauses_on_gaps(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    channel = WavChannel(path, realtime=True)
    clock = with_clock(channel)
    chunk = bytes(100 * 48)
    channel.play("a", chunk)
    clock.now += 0.5  # a gap: "a" finished long ago, "b" starts when it arrives
    channel.play("b", chunk)
    clock.now += 0.05
    assert channel.playback_position() == _pos("b", 50)
    channel.play("c", chunk * 2)  # queued behind the rest of "b"
    clock.now += 0.1
    assert channel.playback_position() == _pos("c", 50)
    channel.interrupt()  # drops 150 ms of "c"
    assert channel.reply_ms == 100 + 100 + 50
    await channel.close()


async def test_recording_follows_the_session_output_format(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    out = tmp_path / "out.wav"
    channel = WavChannel(path, out, realtime=False, trailing_silence_ms=0)
    await channel.start(Sink(output_format=AudioFormat.pcmu()))
    pcm = np.rint(sine(200, 8000) * 32767).astype("<i2").tobytes()
    channel.play("item_1", pcm16_to_ulaw(pcm))
    assert channel.output_sample_rate == 8000
    assert channel.playback_position() == _pos("item_1", 200)
    await channel.close()
    audio = read_wav(out)
    assert (audio.sample_rate, audio.channels, audio.frames) == (8000, 1, 1600)
    assert abs(peak_hz(audio.pcm16(), 8000) - 440) < 10


async def test_close_without_audio_writes_an_empty_wav(tmp_path: Path) -> None:
    path = write_int_wav(tmp_path / "in.wav", sine(50, 8000), 8000, 2)
    out = tmp_path / "out.wav"
    channel = WavChannel(path, out)
    await channel.close()
    await channel.close()
    with wave.open(str(out), "rb") as written:
        assert (written.getnframes(), written.getframerate()) == (0, 24000)
    assert channel.recorded == b"" and channel.reply_ms == 0


def test_write_wav_round_trip(tmp_path: Path) -> None:
    pcm = np.arange(-100, 100, dtype="<i2").tobytes()
    write_wav(tmp_path / "s.wav", pcm + b"\x01", 16000, channels=2)
    audio = read_wav(tmp_path / "s.wav")
    assert (audio.channels, audio.sample_rate, audio.pcm16()) == (2, 16000, pcm)
    assert audio.duration_ms == 100 * 1000 / 16000


def _pos(item_id: str, ms: int) -> PlaybackPosition:
    return PlaybackPosition(item_id, ms, 0)


def test_a_chunk_running_past_the_end_is_a_clear_error(tmp_path: Path) -> None:
    # wave's own chunk reader raises a bare RuntimeError on this file
    path = tmp_path / "overrun.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(ConfigurationError, match=r"overrun\.wav"):
        read_wav(path)
