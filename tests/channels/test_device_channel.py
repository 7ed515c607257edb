"""DeviceChannel without a sound card: a fake sounddevice module, callbacks driven by hand."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.channels.device_fakes import (
    FakePortAudioError,
    FakeSink,
    FakeSoundDevice,
    FakeStream,
    const_pcm,
    device,
    sine_pcm,
)
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.channels import DeviceChannel
from voicewire.protocol import (
    AudioFormat,
    AudioOutputDelta,
    ConfigurationError,
    ConnectionClosedError,
    PlaybackPosition,
    RealtimeChannel,
    ResponseCreated,
    SpeechStarted,
)

pytestmark = pytest.mark.timeout(20)


def make(
    sd: FakeSoundDevice | None = None, **kwargs: object
) -> tuple[DeviceChannel, FakeStream, FakeSoundDevice]:
    sd = sd or FakeSoundDevice()
    channel = DeviceChannel(sounddevice_module=sd, **kwargs)  # type: ignore[arg-type]
    return channel, sd.streams[-1], sd


async def settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


# -- opening -------------------------------------------------------------------------------------


async def test_is_a_realtime_channel_and_importing_channels_needs_no_sounddevice() -> None:
    channel, _, _ = make()
    assert isinstance(channel, RealtimeChannel)
    import voicewire.channels.device as module

    assert not hasattr(module, "sounddevice")  # imported lazily, inside the channel only
    await channel.close()


async def test_opens_one_mono_int16_duplex_stream_at_the_output_default_rate() -> None:
    channel, stream, _ = make(FakeSoundDevice(default_input=1, default_output=0))
    assert stream.kwargs["samplerate"] == 48000  # device 0, the output, says 48 kHz
    assert stream.kwargs["device"] == (1, 0)
    assert stream.kwargs["channels"] == 1
    assert stream.kwargs["dtype"] == "int16"
    assert stream.kwargs["blocksize"] == 960  # 20 ms
    assert channel.sample_rate == 48000
    assert channel.input_device_name == "USB Headset: Audio (hw:1,0)"
    assert channel.output_device_name == "HDA Intel PCH: ALC295 Analog (hw:0,0)"
    assert not stream.started
    await channel.start(FakeSink())
    assert stream.started
    await channel.close()


async def test_devices_by_name_and_explicit_rate_and_block() -> None:
    channel, stream, _ = make(
        input_device="usb", output_device="hdmi", sample_rate=16000, block_ms=10
    )
    assert stream.kwargs["device"] == (1, 2)
    assert stream.kwargs["samplerate"] == 16000
    assert stream.kwargs["blocksize"] == 160
    await channel.close()


async def test_custom_stream_factory_with_a_rate_needs_no_sounddevice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import sounddevice -> ImportError
    streams: list[FakeStream] = []

    def factory(**kwargs: object) -> FakeStream:
        streams.append(FakeStream(**kwargs))
        return streams[-1]

    channel = DeviceChannel(sample_rate=24000, stream_factory=factory, output_device=3)
    assert streams[0].kwargs["device"] == (None, 3)
    await channel.close()


async def test_bad_arguments_are_configuration_errors() -> None:
    for kwargs in ({"block_ms": 0}, {"jitter_ms": -1}, {"sample_rate": 0}, {"end_gap_ms": 0}):
        with pytest.raises(ConfigurationError):
            make(**kwargs)


# -- missing software or hardware ------------------------------------------------------------------


def test_missing_sounddevice_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(ConfigurationError) as info:
        DeviceChannel()
    message = str(info.value)
    assert 'pip install "voicewire[device]"' in message
    assert "apt-get install libportaudio2" in message


def test_missing_portaudio_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What the real package does when libportaudio is absent: raise OSError at import.
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ConfigurationError) as info:
            DeviceChannel()
    finally:
        sys.modules.pop("sounddevice", None)
    message = str(info.value)
    assert "PortAudio library not found" in message
    assert "apt-get install libportaudio2" in message
    assert 'pip install "voicewire[device]"' in message


def test_no_devices_at_all() -> None:
    sd = FakeSoundDevice(devices=[], default_input=-1, default_output=-1)
    with pytest.raises(ConfigurationError) as info:
        DeviceChannel(sounddevice_module=sd)
    message = str(info.value)
    assert "no default input device" in message
    assert "Error querying device -1" in message
    assert "found no audio devices" in message


def test_no_input_device_lists_what_was_found() -> None:
    speakers = [device(0, "Speakers", 0, 2)]
    sd = FakeSoundDevice(devices=speakers, default_input=-1, default_output=0)
    with pytest.raises(ConfigurationError) as info:
        DeviceChannel(sounddevice_module=sd)
    message = str(info.value)
    assert "no default input device" in message
    assert "[0] Speakers (0 in, 2 out)" in message


def test_chosen_device_without_output_channels() -> None:
    mic_only = [device(0, "Mic", 1, 0), device(1, "Speakers", 0, 2)]
    sd = FakeSoundDevice(devices=mic_only, default_input=0, default_output=1)
    with pytest.raises(ConfigurationError) as info:
        DeviceChannel(sounddevice_module=sd, output_device=0)
    assert "output device 0 ('Mic') has no output channels" in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        DeviceChannel(sounddevice_module=sd, input_device="webcam")
    assert "No input device matching 'webcam'" in str(info.value)
    assert "[1] Speakers (0 in, 2 out)" in str(info.value)


def test_stream_that_cannot_be_opened() -> None:
    sd = FakeSoundDevice(open_error=FakePortAudioError("Invalid sample rate", -9997))
    with pytest.raises(ConfigurationError) as info:
        DeviceChannel(sounddevice_module=sd, sample_rate=12345)
    message = str(info.value)
    assert "Invalid sample rate" in message and "12345 Hz" in message
    assert "[0] HDA Intel PCH" in message


# -- microphone ----------------------------------------------------------------------------------


async def test_mic_at_48k_reaches_the_sink_as_24k_pcm16() -> None:
    channel, stream, _ = make()
    sink = FakeSink(input_format=AudioFormat.pcm16(24000))
    await channel.start(sink)
    mic = sine_pcm(1000, 48000, freq=440, amp=0.5)
    for offset in range(0, len(mic), 1920):
        stream.tick(960, mic[offset : offset + 1920])
    await settle()
    assert all(len(chunk) % 2 == 0 for chunk in sink.chunks)
    out = samples(sink.received)
    # 1 s at 24 kHz, less what the resampler still holds (it is flushed at the stream's end).
    assert 24000 - 24 * 40 <= len(out) <= 24000
    spectrum = np.abs(np.fft.rfft(out[-12000:]))
    assert np.argmax(spectrum) * 24000 / 12000 == pytest.approx(440, abs=4)
    assert channel.input_level == pytest.approx(0.5 / np.sqrt(2), abs=0.01)
    await channel.close()


async def test_mic_at_the_sink_rate_passes_through_exactly() -> None:
    channel, stream, _ = make(sample_rate=24000)
    sink = FakeSink()
    await channel.start(sink)
    mic = sine_pcm(200, 24000)
    for offset in range(0, len(mic), 960):
        stream.tick(480, mic[offset : offset + 960])
    await settle()
    assert sink.received == mic
    await channel.close()


async def test_mic_converted_to_g711_for_a_phone_format() -> None:
    channel, stream, _ = make()
    sink = FakeSink(input_format=AudioFormat.pcmu())
    await channel.start(sink)
    for _ in range(50):
        stream.tick(960, sine_pcm(20, 48000))
    await settle()
    # One byte per 8 kHz sample; soxr holds back up to ~160 ms at 48 -> 8 kHz until flushed.
    assert 8000 - 8 * 160 <= len(sink.received) <= 8000
    await channel.close()


async def test_mic_callback_from_a_real_other_thread() -> None:
    channel, stream, _ = make(sample_rate=24000)
    loop_thread = threading.get_ident()
    seen_threads: set[int] = set()
    ramp = np.arange(24000, dtype="<i2").tobytes()  # 1 s, every sample distinct: order shows
    all_there = asyncio.Event()

    class ThreadSink(FakeSink):
        def send_audio(self, audio: bytes) -> None:
            seen_threads.add(threading.get_ident())
            super().send_audio(audio)
            if len(self.received) >= len(ramp):
                all_there.set()

    sink = ThreadSink()
    await channel.start(sink)
    callback_threads: set[int] = set()

    def portaudio() -> None:
        callback_threads.add(threading.get_ident())
        for offset in range(0, len(ramp), 960):
            stream.tick(480, ramp[offset : offset + 960])

    thread = threading.Thread(target=portaudio)
    thread.start()
    await asyncio.wait_for(all_there.wait(), timeout=5)
    thread.join()
    assert sink.received == ramp
    assert seen_threads == {loop_thread}
    assert callback_threads and loop_thread not in callback_threads
    await channel.close()


async def test_mic_ignored_after_close() -> None:
    channel, stream, _ = make(sample_rate=24000)
    sink = FakeSink()
    await channel.start(sink)
    await channel.close()
    stream.tick(480, const_pcm(20, 24000))
    await settle()
    assert sink.received == b""


# -- speaker -------------------------------------------------------------------------------------


async def test_playback_pulls_exact_frames_and_zero_fills_the_underrun() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=0)
    await channel.start(FakeSink())
    audio = const_pcm(50, 24000, 1000)  # 1200 samples
    channel.play("item_a", audio)
    channel.mark_end("item_a")
    blocks = [stream.tick(480) for _ in range(4)]
    assert [len(b) for b in blocks] == [960] * 4
    assert b"".join(blocks)[: len(audio)] == audio
    third = samples(blocks[2])
    assert (third[:240] == 1000).all() and (third[240:] == 0).all()
    assert blocks[3] == bytes(960)
    assert channel.output_level == 0.0
    await channel.close()


async def test_blocks_of_any_size() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=0)
    await channel.start(FakeSink())
    ramp = np.arange(1, 3001, dtype="<i2").tobytes()
    channel.play("item_a", ramp)
    channel.mark_end("item_a")
    out = b"".join(stream.tick(frames) for frames in (1, 441, 1000, 7, 1600))
    assert len(out) == 2 * 3049
    assert out[: len(ramp)] == ramp and out[len(ramp) :] == bytes(2 * 49)
    await channel.close()


async def test_playback_resampled_to_the_device_rate() -> None:
    channel, stream, _ = make()  # 48 kHz device, 24 kHz session
    await channel.start(FakeSink())
    channel.play("item_a", sine_pcm(500, 24000, freq=1000))
    channel.mark_end("item_a")
    out = samples(b"".join(stream.tick(960) for _ in range(30)))
    played = out[:24000]  # the whole item is 500 ms at 48 kHz
    spectrum = np.abs(np.fft.rfft(played))
    assert np.argmax(spectrum) * 48000 / len(played) == pytest.approx(1000, abs=4)
    assert (out[24100:] == 0).all()
    assert channel.output_level == 0.0
    await channel.close()


async def test_jitter_buffer_delays_the_start_until_enough_is_buffered() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=60)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(40, 24000, 500))
    assert stream.tick(480) == bytes(960)  # 40 of 60 ms buffered: wait
    assert channel.playback_position() == PlaybackPosition("item_a", 0)
    assert channel.buffered_ms == pytest.approx(40)
    channel.play("item_a", const_pcm(20, 24000, 500))
    block = samples(stream.tick(480))  # 60 ms buffered: go
    assert (block == 500).all()
    assert channel.output_level == pytest.approx(500 / 32768)
    assert channel.playback_position() == PlaybackPosition("item_a", 20)
    await channel.close()


async def test_underrun_mid_item_waits_for_the_jitter_buffer_again() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=60)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(60, 24000))
    for _ in range(3):
        assert (samples(stream.tick(480)) == 1000).all()
    assert stream.tick(480) == bytes(960)  # ran dry
    channel.play("item_a", const_pcm(20, 24000))
    assert stream.tick(480) == bytes(960)  # only 20 of 60 ms: keep waiting
    channel.play("item_a", const_pcm(40, 24000))
    assert (samples(stream.tick(480)) == 1000).all()
    assert channel.playback_position() == PlaybackPosition("item_a", 80)
    await channel.close()


async def test_short_item_plays_once_it_ended() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=60)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(20, 24000))
    assert stream.tick(480) == bytes(960)
    channel.mark_end("item_a")
    assert (samples(stream.tick(480)) == 1000).all()
    await channel.close()


async def test_item_ends_by_itself_when_no_audio_comes_for_end_gap_ms() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=60, end_gap_ms=20)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(20, 24000))
    assert stream.tick(480) == bytes(960)
    await asyncio.sleep(0.05)
    assert (samples(stream.tick(480)) == 1000).all()
    await channel.close()


async def test_next_item_ends_the_previous_one_and_plays_after_it() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=60)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(20, 24000, 111))
    channel.play("item_b", const_pcm(60, 24000, 222))
    out = samples(b"".join(stream.tick(480) for _ in range(5)))
    assert (out[:480] == 111).all() and (out[480:1920] == 222).all() and (out[1920:] == 0).all()
    await channel.close()


async def test_position_counts_only_what_the_callback_consumed() -> None:
    channel, stream, _ = make()  # 48 kHz device: the 24 kHz reply is resampled
    await channel.start(FakeSink())
    assert channel.playback_position() is None
    for _ in range(50):
        channel.play("item_a", sine_pcm(20, 24000))  # 1000 ms in 20 ms deltas
    channel.mark_end("item_a")
    for _ in range(15):
        stream.tick(960)  # 300 ms
    assert channel.playback_position() == PlaybackPosition("item_a", 300)
    for _ in range(60):
        stream.tick(960)
    # Played to the end: exactly what the session counts as received.
    assert channel.playback_position() == PlaybackPosition("item_a", 1000)
    await channel.close()


async def test_position_reports_the_item_waiting_in_the_jitter_buffer() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=60)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(40, 24000), content_index=0)
    channel.mark_end("item_a")
    stream.tick(480)
    stream.tick(480)
    assert channel.playback_position() == PlaybackPosition("item_a", 40)
    channel.play("item_b", const_pcm(20, 24000), content_index=1)
    assert channel.playback_position() == PlaybackPosition("item_b", 0, 1)
    await channel.close()


async def test_interrupt_flushes_now_and_freezes_the_position() -> None:
    channel, stream, _ = make()
    await channel.start(FakeSink())
    channel.play("item_a", sine_pcm(1000, 24000))
    for _ in range(15):
        stream.tick(960)
    assert channel.playback_position() == PlaybackPosition("item_a", 300)
    channel.interrupt()
    assert channel.buffered_ms == 0
    for _ in range(5):
        assert stream.tick(960) == bytes(1920)
    assert channel.playback_position() == PlaybackPosition("item_a", 300)
    channel.play("item_a", sine_pcm(100, 24000))  # still in flight from the cancelled response
    assert stream.tick(960) == bytes(1920)
    assert channel.playback_position() == PlaybackPosition("item_a", 300)
    channel.play("item_b", sine_pcm(200, 24000))  # the next reply plays normally
    assert stream.tick(960) != bytes(1920)
    assert channel.playback_position() == PlaybackPosition("item_b", 20)
    await channel.close()


async def test_xruns_are_counted() -> None:
    channel, stream, _ = make(sample_rate=24000)
    await channel.start(FakeSink())
    stream.tick(480, status=0)
    stream.tick(480, status=2)
    assert channel.xruns == 1
    await channel.close()


# -- closing -------------------------------------------------------------------------------------


async def test_close_is_idempotent_and_silences_the_callback() -> None:
    channel, stream, _ = make(sample_rate=24000, jitter_ms=0)
    await channel.start(FakeSink())
    channel.play("item_a", const_pcm(100, 24000))
    await channel.close()
    await channel.close()
    assert stream.aborted and stream.closed == 1
    assert channel.closed
    assert stream.tick(480) == bytes(960)
    channel.play("item_a", const_pcm(100, 24000))
    assert stream.tick(480) == bytes(960)
    with pytest.raises(ConnectionClosedError):
        await channel.start(FakeSink())


async def test_close_without_start_only_closes() -> None:
    channel, stream, _ = make()
    await channel.close()
    assert stream.closed == 1 and not stream.aborted


async def test_start_again_redirects_the_mic_to_the_new_sink() -> None:
    channel, stream, _ = make(sample_rate=24000)
    first, second = FakeSink(), FakeSink()
    await channel.start(first)
    await channel.start(second)
    stream.tick(480, const_pcm(20, 24000))
    await settle()
    assert first.received == b"" and len(second.received) == 960
    await channel.close()


# -- with a session ------------------------------------------------------------------------------


async def test_session_truncates_at_what_the_speaker_played() -> None:
    from tests.session.conftest import MemoryModel

    model = MemoryModel()
    channel, stream, _ = make()
    agent = RealtimeAgent(id="a", name="A", instructions="Be brief.")
    async with RealtimeSession(agent, model=model, channel=channel):
        conn = model.connection
        conn.push(ResponseCreated("resp_1"))
        for _ in range(50):
            conn.push(AudioOutputDelta.from_bytes("resp_1", "item_a", sine_pcm(20, 24000)))
        await settle(20)
        for _ in range(21):
            stream.tick(960)  # 420 ms through the speaker
        conn.push(SpeechStarted("item_user", 1234))
        await settle(20)
        (truncate,) = conn.of("item.truncate")
        assert (truncate.item_id, truncate.audio_end_ms) == ("item_a", 420)
        assert stream.tick(960) == bytes(1920)  # the speaker stopped
