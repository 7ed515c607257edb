"""TwilioChannel, the I/O around the Twilio wire (voicewire.channels.twilio_channel): framing,
marks, interruption, early audio, and bad input (in memory, and over a real WebSocket where the
call must go on)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from tests.channels.twilio_support import (
    STREAM_SID,
    FakeTwilio,
    MemorySocket,
    SessionLikeSink,
    StubSink,
    eventually,
    outbound_validator,
    serve,
)
from voicewire.audio import pcm16_to_ulaw
from voicewire.channels import TwilioChannel, TwilioStreamError, twilio_route
from voicewire.protocol import (
    AudioFormat,
    AudioOutputDone,
    ConnectionClosedError,
    PlaybackPosition,
    RealtimeChannel,
)
from voicewire.testing import tone

pytestmark = pytest.mark.timeout(15)


# -- output framing, in memory ----------------------------------------------------------------


async def started_channel(
    sink: StubSink | None = None, **options: Any
) -> tuple[TwilioChannel, MemorySocket, StubSink]:
    socket = MemorySocket()
    channel = TwilioChannel(socket, **options)
    sink = sink or StubSink()
    socket.start({"who": "test"})
    await channel.start(sink)
    await channel.wait_started()
    assert socket.accepted
    return channel, socket, sink


def ulaw(ms: int) -> bytes:
    return pcm16_to_ulaw(tone(ms, sample_rate=8000))


async def test_frames_and_marks_in_passthrough() -> None:
    channel, socket, _ = await started_channel(mark_interval_ms=100, flush_after_ms=10)
    assert isinstance(channel, RealtimeChannel)
    assert channel.playback_position() is None
    audio = ulaw(250)  # 2000 bytes: 12 full frames and 80 bytes
    channel.play("item_a", audio)
    await eventually(lambda: len(socket.of("mark")) == 3, "the closing mark")
    events = [m["event"] for m in socket.sent]
    assert events == ["media"] * 5 + ["mark"] + ["media"] * 5 + ["mark"] + ["media"] * 3 + ["mark"]
    assert [len(base64.b64decode(m["media"]["payload"])) for m in socket.of("media")] == (
        [160] * 12 + [80]
    )
    assert socket.media_bytes() == audio
    assert channel.media_bytes_sent == len(audio)
    names = [m["mark"]["name"] for m in socket.of("mark")]
    assert [m.audio_end_ms for m in channel.marks.pending] == [100, 200, 250]
    assert channel.playback_position() == PlaybackPosition("item_a", 0)

    socket.mark(names[0])
    await eventually(lambda: channel.playback_position() == PlaybackPosition("item_a", 100))
    socket.mark(names[2])
    await eventually(lambda: channel.playback_position() == PlaybackPosition("item_a", 250))
    assert channel.marks.pending == ()

    validator = outbound_validator()
    for message in socket.sent:
        assert list(validator.iter_errors(message)) == []
        assert message["streamSid"] == STREAM_SID
    await channel.close()
    assert socket.closed and channel.stop_reason == "closed"


async def test_conversion_flushes_the_filter_tail_at_the_end_of_an_item() -> None:
    sink = SessionLikeSink(output_format=AudioFormat.pcm16(24000))
    channel, socket, _ = await started_channel(sink, flush_after_ms=5000)
    pcm = tone(600)
    for start in range(0, len(pcm), 960):  # 20 ms deltas
        channel.play("item_a", pcm[start : start + 960])
    await asyncio.sleep(0.05)
    held_back = 600 * 8 - len(socket.media_bytes())
    assert held_back > 0  # the resampler keeps some audio until the stream ends
    sink.emit("audio.output.done", AudioOutputDone("resp_1", "item_a"))  # as a session would
    await eventually(lambda: abs(len(socket.media_bytes()) - 600 * 8) <= 8, "the tail")
    last = channel.marks.pending[-1]
    assert last.audio_end_ms == 600  # the closing mark covers all the session delivered
    assert socket.sent[-1] == {
        "event": "mark",
        "streamSid": STREAM_SID,
        "mark": {"name": last.name},
    }
    await channel.close()
    assert sink.handlers == {"audio.output.done": [], "response.done": []}  # unsubscribed


async def test_idle_flush_without_a_session() -> None:
    channel, socket, _ = await started_channel(
        StubSink(output_format=AudioFormat.pcm16(24000)), flush_after_ms=20
    )
    channel.play("item_a", tone(300))
    await eventually(lambda: abs(len(socket.media_bytes()) - 300 * 8) <= 8, "the idle flush")
    assert channel.marks.pending[-1].audio_end_ms == 300
    await channel.close()


async def test_a_new_item_closes_the_previous_one() -> None:
    channel, socket, _ = await started_channel(mark_interval_ms=1000)
    channel.play("item_a", ulaw(50))
    channel.play("item_b", ulaw(30))
    await eventually(lambda: len(socket.of("mark")) == 1)
    (mark_a,) = channel.marks.pending
    assert (mark_a.item_id, mark_a.audio_end_ms) == ("item_a", 50)
    socket.mark(mark_a.name)
    await eventually(lambda: channel.marks.heard_ms("item_a") == 50)
    assert channel.playback_position() == PlaybackPosition("item_b", 0)
    await channel.close()


async def test_interrupt_clears_and_forgets_unheard_marks() -> None:
    channel, socket, _ = await started_channel()
    channel.play("item_a", ulaw(200))
    await eventually(lambda: len(socket.of("mark")) == 10)
    names = [m["mark"]["name"] for m in socket.of("mark")]
    socket.mark(names[3])
    await eventually(lambda: channel.playback_position() == PlaybackPosition("item_a", 80))
    channel.play("item_a", ulaw(200))  # queued, maybe partly sent
    channel.interrupt()
    await eventually(lambda: bool(socket.of("clear")), "clear")
    assert socket.sent[-1] == {"event": "clear", "streamSid": STREAM_SID}
    assert channel.marks.pending == ()
    for name in names[4:]:  # Twilio echoes the cleared marks: not heard
        socket.mark(name)
    channel.play("item_a", ulaw(100))  # a late delta of the cancelled response: dropped
    await asyncio.sleep(0.02)
    assert channel.playback_position() == PlaybackPosition("item_a", 80)
    assert socket.sent[-1]["event"] == "clear"
    channel.play("item_b", ulaw(40))  # the next reply plays normally
    await eventually(lambda: len(socket.sent) >= 2 and socket.sent[-1]["event"] == "mark")
    assert channel.playback_position() == PlaybackPosition("item_b", 0)
    assert channel.errors == []
    await channel.close()


async def test_audio_before_the_start_message_waits_for_the_stream_sid() -> None:
    socket = MemorySocket()
    channel = TwilioChannel(socket)
    await channel.start(StubSink())
    channel.play("item_a", ulaw(40))
    await asyncio.sleep(0.02)
    assert socket.sent == []
    socket.start()
    await eventually(lambda: len(socket.of("mark")) == 2)
    assert all(m["streamSid"] == STREAM_SID for m in socket.sent)
    await channel.close()


async def test_caller_audio_before_the_session_is_kept_and_converted() -> None:
    socket = MemorySocket()
    channel = TwilioChannel(socket, input_buffer_ms=100)
    socket.start({"agent": "support"})
    info = await channel.wait_started()
    assert info.custom_parameters == {"agent": "support"}
    assert info.tracks == ("inbound",)
    for frame_ms in range(10):  # 200 ms arrive before the session: the last 100 ms are kept
        socket.media(bytes([frame_ms]) * 160)
    await eventually(lambda: channel.media_bytes_received == 1600)
    sink = StubSink()
    await channel.start(sink)
    assert bytes(sink.audio) == b"".join(bytes([i]) * 160 for i in range(5, 10))
    socket.media(ulaw(20))
    await eventually(lambda: len(sink.audio) == 960)
    # A 24 kHz session gets 24 kHz PCM16.
    pcm_sink = StubSink(input_format=AudioFormat.pcm16(24000))
    await channel.start(pcm_sink)
    for _ in range(10):
        socket.media(ulaw(20))
    await eventually(lambda: len(pcm_sink.audio) >= 100 * 48, "converted audio")
    assert len(pcm_sink.audio) % 2 == 0
    await channel.close()


async def test_wait_started_fails_when_the_call_ends_first() -> None:
    socket = MemorySocket()
    channel = TwilioChannel(socket)
    socket.disconnect()
    with pytest.raises(ConnectionClosedError, match="before its start message"):
        await channel.wait_started()
    assert channel.stop_reason == "disconnected"
    await channel.close()
    assert not socket.closed  # the peer closed it already


# -- bad input --------------------------------------------------------------------------------


async def test_bad_input_in_memory_is_reported_and_the_call_goes_on() -> None:
    seen: list[TwilioStreamError] = []
    digits: list[str] = []
    socket = MemorySocket()
    channel = TwilioChannel(socket, on_error=seen.append, on_dtmf=digits.append)
    sink = StubSink()
    await channel.start(sink)
    socket.push("{not json")
    socket.push('["a", "list"]')
    socket.push('{"no": "event"}')
    socket.push('{"event": "transcription"}')
    socket.media(b"\x01" * 160)  # before start
    socket.push_bytes(b"\x00\x01")
    socket.start()
    socket.media("!!!not base64!!!")
    socket.push({"event": "media", "streamSid": STREAM_SID})
    socket.push({"event": "mark", "streamSid": STREAM_SID, "mark": {}})
    socket.push({"event": "dtmf", "streamSid": STREAM_SID, "dtmf": {"digit": ""}})
    socket.start()  # again
    socket.media(b"\x02" * 160)
    socket.push({"event": "dtmf", "streamSid": STREAM_SID, "dtmf": {"digit": "5"}})
    socket.push({"event": "stop", "streamSid": STREAM_SID, "stop": {}})
    await asyncio.wait_for(channel.stopped.wait(), 2)
    assert [e.kind for e in channel.errors] == [
        "malformed_json",
        "invalid_message",
        "invalid_message",
        "unknown_event",
        "media_before_start",
        "binary_frame",
        "invalid_payload",
        "invalid_message",
        "invalid_message",
        "invalid_message",
        "duplicate_start",
    ]
    assert seen == channel.errors
    assert "'transcription'" in channel.errors[3].message
    assert "invalid base64" in str(channel.errors[6])
    assert bytes(sink.audio) == b"\x02" * 160
    assert digits == channel.dtmf_digits == ["5"]
    assert channel.stop_reason == "stop"
    await channel.close()


async def test_a_start_with_tolerable_problems_reports_them_and_starts() -> None:
    seen: list[TwilioStreamError] = []
    socket = MemorySocket()
    channel = TwilioChannel(socket, on_error=seen.append)
    socket.push(
        {
            "event": "start",
            "streamSid": STREAM_SID,
            "start": {
                "streamSid": STREAM_SID,
                "customParameters": "agent=desk",
                "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1},
            },
        }
    )
    info = await channel.wait_started()
    assert info.stream_sid == STREAM_SID and info.custom_parameters == {}
    assert [e.kind for e in seen] == ["invalid_message", "unsupported_media_format"]
    assert seen == channel.errors
    socket.media(b"\x04" * 160)  # the audio is still read as 8 kHz mu-law
    await eventually(lambda: channel.media_bytes_received == 160)
    await channel.close()


async def test_a_failing_callback_does_not_stop_the_reader() -> None:
    def explode(digit: str) -> None:
        raise RuntimeError(f"no handler for {digit}")

    channel, socket, sink = await started_channel(on_dtmf=explode)
    socket.push({"event": "dtmf", "streamSid": STREAM_SID, "dtmf": {"digit": "1"}})
    socket.media(b"\x03" * 160)
    await eventually(lambda: len(sink.audio) == 160)
    assert [e.kind for e in channel.errors] == ["callback_failed"]
    assert "no handler for 1" in channel.errors[0].message
    await channel.close()


async def test_bad_input_over_a_real_websocket() -> None:
    channels: list[TwilioChannel] = []
    sink = StubSink()

    async def call(channel: TwilioChannel) -> None:
        channels.append(channel)
        await channel.start(sink)
        await channel.stopped.wait()

    app = Starlette(routes=[twilio_route("/media", call)])
    async with serve(app) as base, connect(f"{base}/media") as ws, FakeTwilio(ws) as twilio:
        await twilio.connected()
        await ws.send("this is not json")
        await twilio.send({"event": "media", "media": {"payload": "AAAA"}})  # before start
        await twilio.start()
        await twilio.send({"event": "surprise", "detail": 1})
        await twilio.send({"event": "media", "media": {"track": "inbound", "payload": "%%%"}})
        await ws.send(b"\x00binary")
        sent = await twilio.speak(tone(100, sample_rate=8000))
        await twilio.dtmf("9")
        await eventually(lambda: bool(channels) and channels[0].dtmf_digits == ["9"])
        channel = channels[0]
        channel.play("item_x", sent)  # and the call still plays audio
        await eventually(lambda: len(twilio.media) == len(sent), "the reply")
        await twilio.stop()
        await eventually(lambda: channel.stopped.is_set())
    assert [e.kind for e in channel.errors] == [
        "malformed_json",
        "media_before_start",
        "unknown_event",
        "invalid_payload",
        "binary_frame",
    ]
    assert bytes(sink.audio) == sent
    assert json.loads(json.dumps(twilio.received))  # all JSON text frames
    assert channel.stop_reason == "stop"


async def test_a_stop_before_start_ends_both_tasks() -> None:
    socket = MemorySocket()
    channel = TwilioChannel(socket)
    await channel.start(StubSink())
    channel.play("item_a", ulaw(40))
    socket.push({"event": "stop", "streamSid": STREAM_SID, "stop": {}})
    socket.disconnect()
    await asyncio.wait_for(channel.stopped.wait(), 2)
    assert channel._writer is not None and channel._reader is not None
    await asyncio.wait_for(asyncio.gather(channel._writer, channel._reader), 2)
    assert socket.sent == []
    await channel.close()
