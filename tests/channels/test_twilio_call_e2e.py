"""A phone call end to end: a simulated Twilio connects a Media Stream to a Starlette app served
by uvicorn on 127.0.0.1, whose route runs a RealtimeSession through a TwilioChannel against the
scripted fake realtime server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from tests.channels.twilio_support import (
    CALL_SID,
    STREAM_SID,
    FakeTwilio,
    eventually,
    outbound_validator,
    serve,
)
from voicewire import AudioFormat, RealtimeAgent, RealtimeSession, SessionConfig, TurnDetection
from voicewire.channels import TwilioChannel, twilio_route
from voicewire.protocol import ConnectOptions, PlaybackPosition, TransportStatus
from voicewire.providers import openai
from voicewire.session import SessionEvent
from voicewire.testing import AudioReply, FakeRealtimeServer, rms, silence, tone

pytestmark = pytest.mark.timeout(20)

AGENT = RealtimeAgent(id="desk", name="Front desk", instructions="Answer the phone politely.")
VAD = TurnDetection("server_vad", silence_duration_ms=200)


class CallApp:
    """The app under test: one route; each call gets a session on the fake server."""

    def __init__(self, fake: FakeRealtimeServer, config: SessionConfig) -> None:
        self.fake = fake
        self.config = config
        self.channels: list[TwilioChannel] = []
        self.sessions: list[RealtimeSession] = []
        self.events: list[SessionEvent] = []
        self.done = asyncio.Event()
        self.app = Starlette(routes=[twilio_route("/media", self.call)])

    async def call(self, channel: TwilioChannel) -> None:
        self.channels.append(channel)
        await channel.wait_started()
        model = openai.realtime(api_key="sk-test", base_url=self.fake.base_url)
        session = RealtimeSession(
            AGENT,
            model=model,
            channel=channel,
            connect_options=ConnectOptions(session_config=self.config),
        )
        session.on("*", self.events.append)
        self.sessions.append(session)
        try:
            async with session:
                await channel.stopped.wait()
        finally:
            self.done.set()

    @property
    def channel(self) -> TwilioChannel:
        return self.channels[0]

    @property
    def session(self) -> RealtimeSession:
        return self.sessions[0]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    async def connected(self) -> None:
        await eventually(
            lambda: bool(self.sessions) and self.session.status is TransportStatus.CONNECTED,
            "the session to connect",
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(dialect="openai", api_key="sk-test") as server:
        yield server


def caller_speech(ms_tone: int, ms_silence: int) -> bytes:
    return tone(ms_tone, sample_rate=8000, amplitude=0.4) + silence(ms_silence, sample_rate=8000)


def check_outbound(messages: list[dict[str, Any]]) -> None:
    validator = outbound_validator()
    for message in messages:
        errors = [e.message for e in validator.iter_errors(message)]
        assert errors == [], (message, errors)
        assert message["streamSid"] == STREAM_SID


@pytest.mark.parametrize("phone_format", [False, True], ids=["pcm16-24k", "pcmu-passthrough"])
async def test_a_full_call(fake: FakeRealtimeServer, phone_format: bool) -> None:
    fake.script.default = AudioReply("Hello caller.", duration_ms=600)
    g711 = AudioFormat.pcmu() if phone_format else None
    config = SessionConfig(turn_detection=VAD, input_audio_format=g711, output_audio_format=g711)
    app = CallApp(fake, config)
    async with serve(app.app) as base, connect(f"{base}/media") as ws, FakeTwilio(ws) as twilio:
        await twilio.connected()
        await twilio.start({"caller": "+15550100", "lang": "en & fr"})
        await app.connected()
        spoken = await twilio.speak(caller_speech(400, 800))

        await eventually(lambda: "response.done" in app.kinds(), "the reply")
        item = app.session.playback.current_item
        assert item is not None
        sent_ms = app.session.playback.received_ms(item)
        # Twilio echoed every mark: the caller heard the whole reply, as the session counted it.
        await eventually(
            lambda: app.channel.playback_position() == PlaybackPosition(item, sent_ms),
            "every mark to be echoed",
        )
        await twilio.dtmf("7")
        await eventually(lambda: app.channel.dtmf_digits == ["7"], "the digit")
        await twilio.stop()
        await asyncio.wait_for(app.done.wait(), 5)

    channel = app.channel
    assert channel.stopped.is_set() and channel.stop_reason == "stop"
    assert (channel.stream_sid, channel.call_sid) == (STREAM_SID, CALL_SID)
    assert channel.custom_parameters == {"caller": "+15550100", "lang": "en & fr"}
    assert channel.protocol_version == "1.0.0"
    assert channel.errors == []
    assert app.session.status is TransportStatus.CLOSED

    # The fake model heard the caller: energy VAD fired and a response came.
    sent = fake.sent_types()
    assert "input_audio_buffer.speech_started" in sent
    assert "input_audio_buffer.speech_stopped" in sent
    assert sent.count("response.done") == 1
    if phone_format:
        assert bytes(fake.input_audio) == spoken  # μ-law passed through untouched
    else:
        assert len(fake.input_audio) >= 1100 * 48  # 1200 ms at 24 kHz, less the filter delay
        assert rms(bytes(fake.input_audio[: 300 * 48])) > 0.2

    # The caller got ~600 ms of μ-law in 20 ms frames, every stretch followed by a mark.
    assert sent_ms == 600
    assert abs(len(twilio.media) - 600 * 8) <= 16
    assert all(size == 160 for size in twilio.frames[:-1]) and 0 < twilio.frames[-1] <= 160
    assert len(twilio.marks) == len(set(twilio.marks)) >= 25
    assert twilio.received[-1]["event"] == "mark"
    assert channel.marks.pending == ()
    assert [m["event"] for m in twilio.received if m["event"] == "clear"] == []
    check_outbound(twilio.received)
    assert fake.violations == []
    assert fake.errors == []


async def test_barge_in_cuts_where_the_caller_was(fake: FakeRealtimeServer) -> None:
    fake.script.default = AudioReply("A long answer " * 10, duration_ms=4000, pace=0.02)
    app = CallApp(fake, SessionConfig(turn_detection=VAD))
    acked = 10
    async with (
        serve(app.app) as base,
        connect(f"{base}/media") as ws,
        FakeTwilio(ws, ack_limit=acked) as twilio,
    ):
        await twilio.connected()
        await twilio.start()
        await app.connected()
        await twilio.speak(caller_speech(300, 400))
        # Twilio plays (and echoes) only the first marks; more audio keeps arriving.
        await eventually(lambda: len(twilio.marks) >= 25, "25 marks")
        await twilio.speak(caller_speech(300, 300))  # the caller talks over the agent
        await eventually(lambda: "response.interrupted" in app.kinds(), "the barge-in")
        await fake.wait_for_received("conversation.item.truncate")
        await eventually(lambda: bool(twilio.clears), "clear")
        # Twilio echoes every mark still queued after a clear; a digit after them tells us
        # when the channel has read them all.
        await twilio.dtmf("#")
        await eventually(lambda: app.channel.dtmf_digits == ["#"], "the echoes")
        await twilio.stop()
        await asyncio.wait_for(app.done.wait(), 5)

    heard_ms = twilio.mark_offsets[twilio.acked[-1]] // 8
    assert heard_ms == acked * 20  # one mark per 20 ms frame
    sent_ms_at_clear = twilio.clears[0] // 8
    assert heard_ms + 100 <= sent_ms_at_clear  # what was sent is well past what was heard

    (truncate,) = [m for m in fake.received if m["type"] == "conversation.item.truncate"]
    assert truncate["audio_end_ms"] == heard_ms
    (interrupted,) = [e for e in app.events if e.kind == "response.interrupted"]
    assert interrupted.audio_end_ms == heard_ms  # type: ignore[union-attr]
    assert app.session.history.truncated_at == {truncate["item_id"]: heard_ms}

    # The marks echoed after the clear did not move the heard position (meanwhile the reply to
    # the interruption may have started playing: that is another item).
    assert twilio.echoed_after_clear
    assert app.channel.marks.heard_ms(truncate["item_id"]) == heard_ms
    assert len(twilio.clears) == 1
    check_outbound(twilio.received)
    assert app.channel.errors == []
    assert fake.violations == []
