"""RealtimeSession end to end: the real provider stack (model, connection, codec, websockets)
against the scripted fake server on 127.0.0.1, in OpenAI's GA protocol and in xAI's dialect."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from voicewire import (
    RealtimeAgent,
    RealtimeSession,
    SessionConfig,
    TranscriptionConfig,
    TurnDetection,
    tool,
)
from voicewire.protocol import AudioSink, ConnectOptions, PlaybackPosition, TransportStatus
from voicewire.providers import openai, xai
from voicewire.session import ReconnectPolicy, SessionEvent
from voicewire.testing import (
    AudioReply,
    FakeRealtimeServer,
    TextReply,
    ToolCallReply,
    silence,
    tone,
)

pytestmark = pytest.mark.timeout(30)

BYTES_PER_MS = 48  # PCM16 mono at 24 kHz


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


AGENT = RealtimeAgent(
    id="jarvis",
    name="Jarvis",
    instructions="Be concise.",
    tools=[get_weather],
    voice={"voice_id": "marin"},
)


class RealTimeSpeaker:
    """A channel whose listener hears audio at real-time speed, like a sound card."""

    def __init__(self) -> None:
        self.sink: AudioSink | None = None
        self.item: str | None = None
        self.queued_ms = 0.0
        self.started_at: float | None = None
        self.interrupts = 0
        self.bytes_played = 0

    async def start(self, sink: AudioSink) -> None:
        self.sink = sink

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        if item_id != self.item:
            self.item, self.queued_ms, self.started_at = item_id, 0.0, time.monotonic()
        self.queued_ms += len(audio) / BYTES_PER_MS
        self.bytes_played += len(audio)

    def heard_ms(self) -> int:
        if self.started_at is None:
            return 0
        return int(min(self.queued_ms, (time.monotonic() - self.started_at) * 1000))

    def interrupt(self) -> None:
        self.interrupts += 1
        self.queued_ms = float(self.heard_ms())

    def playback_position(self) -> PlaybackPosition | None:
        return PlaybackPosition(self.item, self.heard_ms()) if self.item else None

    async def close(self) -> None:
        pass


def session_for(
    server: FakeRealtimeServer,
    channel: Any = None,
    reconnect: ReconnectPolicy | None = None,
    **config: Any,
) -> RealtimeSession:
    factory = openai.realtime if server.dialect.name == "openai" else xai.realtime
    model = factory(api_key="sk-test", base_url=server.base_url)
    options = ConnectOptions(session_config=SessionConfig(**config)) if config else None
    return RealtimeSession(
        AGENT, model=model, channel=channel, connect_options=options, reconnect=reconnect
    )


async def until(session: RealtimeSession, kind: str, *, count: int = 1) -> list[SessionEvent]:
    """Collect events until the ``count``-th event of ``kind``."""
    seen: list[SessionEvent] = []
    async for event in session:
        seen.append(event)
        if event.kind == kind:
            count -= 1
            if count == 0:
                return seen
    raise AssertionError(f"session ended before {kind}: {[e.kind for e in seen]}")


def kinds(events: list[SessionEvent]) -> list[str]:
    return [e.kind for e in events]


def texts(events: list[SessionEvent], kind: str) -> list[str]:
    return [e.text for e in events if e.kind == kind]  # type: ignore[union-attr]


async def speak(session: RealtimeSession, ms_tone: int, ms_silence: int) -> None:
    audio = tone(ms_tone, amplitude=0.4) + silence(ms_silence)
    for start in range(0, len(audio), 20 * BYTES_PER_MS):
        session.send_audio(audio[start : start + 20 * BYTES_PER_MS])
        await asyncio.sleep(0)


async def test_text_turn(server: FakeRealtimeServer) -> None:
    server.script.default = TextReply("Hello from the fake.")
    async with session_for(server, modalities=["text"]) as session:
        session.send_message("Hi there")
        events = await until(session, "response.done")
        assert session.status is TransportStatus.CONNECTED
    assert "session.created" in kinds(events)
    assert texts(events, "text.output") == ["Hello from the fake."]
    assert events[-1].status == "completed"  # type: ignore[union-attr]
    types = server.received_types()
    assert types[:3] == ["session.update", "conversation.item.create", "response.create"]
    session_sent = server.received[0]["session"]
    assert session_sent["instructions"] == "Be concise."
    assert session_sent["tools"][0]["name"] == "get_weather"
    assert server.violations == []
    assert session.status is TransportStatus.CLOSED


async def test_audio_turn_with_transcripts(server: FakeRealtimeServer) -> None:
    server.script.input_transcript = "tell me a story"
    server.script.on("story", AudioReply("Once upon a time.", duration_ms=400))
    speaker = RealTimeSpeaker()
    transcription = TranscriptionConfig(model="gpt-4o-mini-transcribe")
    vad = TurnDetection("server_vad", silence_duration_ms=200)
    async with session_for(
        server, speaker, transcription=transcription, turn_detection=vad
    ) as session:
        await speak(session, 400, 400)
        events = await until(session, "response.done")
    order = kinds(events)
    for earlier, later in [
        ("speech.started", "speech.stopped"),
        ("speech.stopped", "transcript.input"),
        ("transcript.input", "response.created"),
        ("response.created", "audio.output.delta"),
        ("audio.output.delta", "transcript.output"),
    ]:
        assert order.index(earlier) < order.index(later), (earlier, later, order)
    assert texts(events, "transcript.input") == ["tell me a story"]
    assert texts(events, "transcript.output") == ["Once upon a time."]
    assert speaker.bytes_played == 400 * BYTES_PER_MS
    assert len(server.input_audio) == 800 * BYTES_PER_MS
    user = [i for i in session.history.items if getattr(i, "role", None) == "user"]
    assert user and user[-1].text == "tell me a story"  # type: ignore[union-attr]
    assert server.violations == []


async def test_tool_call_and_the_follow_up(server: FakeRealtimeServer) -> None:
    server.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=AudioReply("It is sunny in Paris.")),
    )
    async with session_for(server) as session:
        session.send_message("What's the weather in Paris?")
        events = await until(session, "response.done", count=2)
    order = kinds(events)
    assert order.index("tool.call") < order.index("tool.output")
    assert texts(events, "transcript.output") == ["It is sunny in Paris."]
    outputs = [
        m["item"]
        for m in server.received
        if m["type"] == "conversation.item.create" and m["item"]["type"] == "function_call_output"
    ]
    assert [o["output"] for o in outputs] == ["sunny in Paris"]
    # the follow-up was asked for after the function call output, exactly once
    assert server.received_types() == [
        "session.update",
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    assert server.violations == [] and server.errors == []


async def test_barge_in_truncates_where_the_listener_was(server: FakeRealtimeServer) -> None:
    server.script.default = AudioReply("A long answer " * 10, duration_ms=4000, pace=0.02)
    speaker = RealTimeSpeaker()
    vad = TurnDetection("server_vad", silence_duration_ms=200)
    async with session_for(server, speaker, turn_detection=vad) as session:
        session.send_message("Talk to me")
        await until(session, "audio.output.delta", count=25)
        await asyncio.sleep(0.2)
        await speak(session, 200, 0)
        events = await until(session, "response.interrupted")
        interrupted = events[-1]
        await until(session, "response.done")
    assert speaker.interrupts == 1
    heard = interrupted.audio_end_ms  # type: ignore[union-attr]
    assert heard is not None and 300 <= heard < 4000
    truncates = [m for m in server.received if m["type"] == "conversation.item.truncate"]
    if server.dialect.name == "openai":
        (truncate,) = truncates
        assert truncate["audio_end_ms"] == heard
        assert session.history.truncated_at == {truncate["item_id"]: heard}
        assert server.errors == []
    else:  # xAI cannot truncate: nothing is sent, the local history still records the cut
        assert truncates == []
        assert list(session.history.truncated_at.values()) == [heard]
    assert server.violations == []


async def test_mute_keeps_audio_from_the_server(server: FakeRealtimeServer) -> None:
    async with session_for(server, turn_detection=TurnDetection("manual")) as session:
        session.send_audio(silence(100))
        session.mute()
        session.send_audio(tone(300))
        session.unmute()
        session.send_audio(silence(60))
        await server.wait_for_received("input_audio_buffer.append", count=2)
        await asyncio.sleep(0.05)
    assert len(server.input_audio) == 160 * BYTES_PER_MS
    assert server.received_types().count("input_audio_buffer.append") == 2


async def test_close_ends_the_connection(server: FakeRealtimeServer) -> None:
    statuses: list[str] = []
    session = session_for(server)
    session.on("status", lambda e: statuses.append(e.status))
    await session.connect()
    assert server.open_connections == 1
    await session.close()
    for _ in range(100):
        if server.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert server.open_connections == 0
    assert statuses == ["connecting", "connected", "closed"]


async def test_bad_frames_become_errors_and_the_session_keeps_working(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("still here")
    async with session_for(server, modalities=["text"]) as session:
        await until(session, "session.created")
        await server.send_raw("{this is not json")
        # newer than the codec: ignored, no error (the README says so)
        await server.send_event({"type": "totally.unknown.event", "event_id": "e1"})
        await server.send_event(
            {
                "type": "response.output_audio.delta",
                "event_id": "e2",
                "response_id": "r",
                "item_id": "i",
                "output_index": 0,
                "content_index": 0,
                "delta": "%%% not base64 %%%",
            }
        )
        await server.send_event({"type": "response.done"})  # a known type with no response
        session.send_message("are you there?")
        events = await until(session, "text.output")
    errors = [e for e in events if e.kind == "session.error"]
    messages = " | ".join(e.message for e in errors)  # type: ignore[union-attr]
    assert [e.code for e in errors] == ["invalid_json", "protocol_error", "protocol_error"]
    assert "malformed JSON" in messages and "base64" in messages and "response.done" in messages
    assert texts(events, "text.output") == ["still here"]


async def test_tool_errors_reach_the_model_over_the_wire(server: FakeRealtimeServer) -> None:
    server.script.on(
        "boom", ToolCallReply("get_weather", "{not json", then=TextReply("Sorry about that."))
    )
    async with session_for(server, modalities=["text"]) as session:
        session.send_message("boom")
        events = await until(session, "text.output")
    (error,) = [e for e in events if e.kind == "session.error"]
    assert error.code == "tool_arguments_invalid"  # type: ignore[union-attr]
    (output,) = [
        m["item"]["output"]
        for m in server.received
        if m["type"] == "conversation.item.create" and m["item"]["type"] == "function_call_output"
    ]
    assert "get_weather" in json.loads(output)["error"]
    assert texts(events, "text.output") == ["Sorry about that."]


async def test_a_dropped_connection_is_reported_and_history_kept(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("noted")
    no_retry = ReconnectPolicy(attempts=0)
    async with session_for(server, reconnect=no_retry, modalities=["text"]) as session:
        session.send_message("remember this")
        await until(session, "response.done")
        await server.drop_connections(code=1011, reason="server restarting")
        events = await until(session, "status.changed")
        assert session.status is TransportStatus.DISCONNECTED
        (lost,) = [e for e in events if e.kind == "session.error"]
        assert lost.code == "connection_lost" and lost.fatal  # type: ignore[union-attr]
        assert "1011" in lost.message and "server restarting" in lost.message  # type: ignore[union-attr]
        words = [getattr(i, "text", "") for i in session.history.items]
        assert "remember this" in words and "noted" in words


async def test_a_dropped_connection_is_brought_back_with_the_conversation(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("noted")
    policy = ReconnectPolicy(initial_delay=0.05)
    async with session_for(server, reconnect=policy, modalities=["text"]) as session:
        session.send_message("remember this")
        await until(session, "response.done")
        before = len(server.received)
        await server.drop_connections(code=1011, reason="server restarting")
        events = await until(session, "status.changed", count=2)
        assert [e.status for e in events if e.kind == "status.changed"] == [  # type: ignore[union-attr]
            TransportStatus.RECONNECTING,
            TransportStatus.CONNECTED,
        ]
        assert not [e for e in events if e.kind == "session.error"]  # recovered: no error
        session.send_message("and now?")
        events = await until(session, "text.output")
        assert texts(events, "text.output") == ["noted"]
    again = server.received[before:]
    creates = [m["item"] for m in again if m["type"] == "conversation.item.create"]
    # The new provider session hears the conversation first, then what is new.
    assert [(i["role"], i["content"][0]["text"]) for i in creates] == [
        ("user", "remember this"),
        ("assistant", "noted"),
        ("user", "and now?"),
    ]
    assert [i["content"][0]["type"] for i in creates] == ["input_text", "output_text", "input_text"]
    assert session.reconnects == 1 and not server.violations
