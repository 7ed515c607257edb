"""RealtimeSession on Gemini Live end to end: the real provider stack (``gemini.realtime``, its
codec and connection, websockets) against the fake Gemini server on 127.0.0.1, whose every client
frame is validated strictly (camelCase required of our codec)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from voicewire import RealtimeAgent, RealtimeSession, SessionConfig, TranscriptionConfig, tool
from voicewire.channels import WavChannel
from voicewire.channels.wav import write_wav
from voicewire.protocol import AudioFormat, ConnectOptions, TransportStatus
from voicewire.providers import gemini
from voicewire.session import SessionEvent
from voicewire.testing import (
    AudioReply,
    FakeGeminiServer,
    TextReply,
    ToolCallReply,
    tone,
)

from .test_session_e2e import RealTimeSpeaker, get_weather, kinds, texts, until

pytestmark = pytest.mark.timeout(30)

IN_RATE = 16000
BYTES_PER_MS_IN = IN_RATE * 2 // 1000
BYTES_PER_MS_OUT = 48  # PCM16 mono at 24 kHz


AGENT = RealtimeAgent(id="jarvis", name="Jarvis", instructions="Be concise.", tools=[get_weather])


@pytest.fixture
async def server() -> AsyncIterator[FakeGeminiServer]:
    async with FakeGeminiServer(api_key="g-test", strict_casing=True) as fake:
        yield fake
    assert fake.own_problems == []


def session_for(server: FakeGeminiServer, channel: Any = None, **config: Any) -> RealtimeSession:
    model = gemini.realtime(api_key="g-test", base_url=server.base_url)
    options = ConnectOptions(session_config=SessionConfig(**config)) if config else None
    return RealtimeSession(AGENT, model=model, channel=channel, connect_options=options)


def marked_frames(count: int, ms: int = 20) -> list[bytes]:
    """Quiet 16 kHz frames (below the VAD threshold), each filled with its own index so that a
    frame lost, repeated or reordered shows in the bytes."""
    samples = IN_RATE * ms // 1000
    return [int(i + 1).to_bytes(2, "little", signed=True) * samples for i in range(count)]


async def test_a_text_turn(server: FakeGeminiServer) -> None:
    server.script.on("hi there", TextReply("Hello from Gemini."))
    async with session_for(server, modalities=["text"]) as session:
        session.send_message("Hi there")
        events = await until(session, "response.done")
        assert session.status is TransportStatus.CONNECTED
    assert texts(events, "text.output") == ["Hello from Gemini."]
    assert events[-1].status == "completed"  # type: ignore[union-attr]
    setup = server.received[0]["setup"]
    assert setup["model"] == f"models/{gemini.DEFAULT_MODEL}"
    assert setup["systemInstruction"]["parts"][0]["text"] == "Be concise."
    declared = setup["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "get_weather"
    assert server.conversation[0]["parts"][0]["text"] == "Hi there"
    assert server.violations == [] and server.casing == []


async def spoken_turn_from_a_wav(
    server: FakeGeminiServer, folder: Path, **config: Any
) -> tuple[list[SessionEvent], RealtimeSession, WavChannel]:
    """A 400 ms question in a 24 kHz WAV file, then 600 ms of silence, through a WavChannel."""
    question, answer = folder / "question.wav", folder / "answer.wav"
    write_wav(question, tone(400, amplitude=0.5), 24000)
    server.script.input_transcript = "what is the weather"
    server.script.on("weather", AudioReply("It is sunny.", duration_ms=400))
    channel = WavChannel(question, answer, realtime=False, trailing_silence_ms=600)
    transcription = TranscriptionConfig(model="default")
    async with session_for(server, channel, transcription=transcription, **config) as session:
        events = await until(session, "response.done")
        await channel.wait_sent()
    return events, session, channel


async def test_a_spoken_turn_from_a_wav_file(server: FakeGeminiServer, tmp_path: Path) -> None:
    events, session, channel = await spoken_turn_from_a_wav(
        server, tmp_path, input_audio_format=AudioFormat.pcm16(24000)
    )
    order = kinds(events)
    assert order.index("transcript.input.delta") < order.index("response.created")
    assert order.index("transcript.input") < order.index("response.done")
    assert order.index("audio.output.delta") < order.index("response.done")
    assert texts(events, "transcript.input") == ["what is the weather"]
    assert texts(events, "transcript.output") == ["It is sunny."]
    assert channel.reply_ms == 400
    # the app's 24 kHz audio reached Gemini as 16 kHz: 400 ms of tone + 600 ms of silence (the
    # streaming resampler may still hold its last few ms, to go out with the next audio)
    assert 960 * BYTES_PER_MS_IN <= len(server.input_audio) <= 1000 * BYTES_PER_MS_IN
    sent = server.received[1]["realtimeInput"]["audio"]
    assert sent["mimeType"] == "audio/pcm;rate=16000"
    user = [i for i in session.history.items if getattr(i, "role", None) == "user"]
    assert user and user[-1].text == "what is the weather"  # type: ignore[union-attr]
    assert server.violations == []


async def test_the_default_input_format_is_resampled_too(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    await spoken_turn_from_a_wav(server, tmp_path)
    assert 960 * BYTES_PER_MS_IN <= len(server.input_audio) <= 1000 * BYTES_PER_MS_IN


async def test_barge_in_stops_playback_and_cuts_the_history(server: FakeGeminiServer) -> None:
    server.script.default = AudioReply("A long answer " * 10, duration_ms=4000, pace=0.02)
    speaker = RealTimeSpeaker()
    async with session_for(server, speaker) as session:
        session.send_message("Talk to me")
        await until(session, "audio.output.delta", count=25)
        await asyncio.sleep(0.2)
        loud = tone(200, sample_rate=24000, amplitude=0.4)
        for start in range(0, len(loud), 960):
            session.send_audio(loud[start : start + 960])
        events = await until(session, "response.done")
    assert "response.interrupted" in kinds(events)
    assert speaker.interrupts == 1
    assert {"serverContent": {"interrupted": True}} in server.sent
    (cut,) = session.history.truncated_at.values()
    assert 300 <= cut < 4000  # what the listener heard, not what was sent
    said = server.conversation[1]["parts"][0]["text"]
    assert said != "A long answer " * 10  # the model's own record is cut too
    assert server.violations == []


async def test_a_tool_call_runs_the_agent_tool(server: FakeGeminiServer) -> None:
    server.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=AudioReply("It is sunny in Paris.")),
    )
    async with session_for(server) as session:
        session.send_message("What's the weather in Paris?")
        events = await until(session, "response.done", count=2)
    order = kinds(events)
    assert order.index("tool.call") < order.index("tool.output")
    assert texts(events, "transcript.output")[-1:] == ["It is sunny in Paris."]
    (response,) = [f["toolResponse"] for f in server.received if "toolResponse" in f]
    (function_response,) = response["functionResponses"]
    call = next(f for f in server.sent if "toolCall" in f)["toolCall"]["functionCalls"][0]
    assert function_response["id"] == call["id"]
    assert function_response["name"] == "get_weather"
    assert isinstance(function_response["response"], dict)
    assert "sunny in Paris" in str(function_response["response"])
    assert server.undeclared_tool_calls == []
    assert server.violations == []


@asynccontextmanager
async def answering(server: FakeGeminiServer) -> AsyncIterator[RealtimeSession]:
    """A session (16 kHz in, so the fake holds exactly the app's bytes) whose model is a few
    chunks into a 1.5 s spoken answer."""
    server.script.default = AudioReply("Here is a rather long answer.", duration_ms=1500, pace=0.02)
    async with session_for(
        server,
        input_audio_format=AudioFormat.pcm16(IN_RATE),
        output_audio_format=AudioFormat.pcm16(24000),
    ) as session:
        session.send_message("Tell me something")
        await until(session, "audio.output.delta", count=5)
        yield session


async def test_go_away_mid_answer_loses_nothing_and_is_invisible(
    server: FakeGeminiServer,
) -> None:
    """The microphone keeps sending while Gemini says goAway mid-answer and while the connection
    moves to a new socket: the answer completes, each frame is in the session once, in order,
    and the app never sees a reconnect."""
    frames = marked_frames(60)
    statuses: list[str] = []
    async with answering(server) as session:
        session.on("status", lambda e: statuses.append(e.status))
        events: list[SessionEvent] = []
        collector = asyncio.create_task(_collect(session, events, "response.done"))
        await server.go_away("3s")
        for frame in frames[:30]:  # during the answer, well before its handle
            session.send_audio(frame)
            await asyncio.sleep(0)
        await asyncio.wait_for(collector, 15)
        await server.wait_until(lambda: server.links[0].closed, timeout=10)
        for frame in frames[30:]:  # while the connection moves to the new socket
            session.send_audio(frame)
        await server.wait_until(
            lambda: len(server.links) == 2 and len(server.session.audio_frames) >= len(frames),
            timeout=10,
        )
        assert session.status is TransportStatus.CONNECTED
    assert events[-1].status == "completed"  # type: ignore[union-attr]
    assert texts(events, "transcript.output") == ["Here is a rather long answer."]
    assert [e for e in events if e.kind == "session.error"] == []
    assert "reconnecting" not in statuses  # invisible to the app
    assert session.reconnects == 0
    assert b"".join(server.session.audio_frames) == b"".join(frames)  # once each, in order
    assert len(server.sessions) == 1
    # resumed from the handle issued when the answer completed
    answer_done = next(i for i, f in enumerate(server.sent) if _turn_complete(f))
    handle = next(
        f["sessionResumptionUpdate"]["newHandle"]
        for f in server.sent[answer_done:]
        if "sessionResumptionUpdate" in f
    )
    assert server.links[1].resumed_from == handle
    assert server.violations == []


async def test_go_away_with_audio_flowing_over_a_real_network_loses_nothing(
    server: FakeGeminiServer,
) -> None:
    server.latency = 0.05  # 50 ms from Gemini to the client, a short real-world path
    frames = marked_frames(600)
    sent: list[bytes] = []
    async with answering(server) as session:
        await server.go_away("3s")
        # the microphone keeps going through the answer's end and the switch, until the new
        # socket carries the session
        for frame in frames:
            session.send_audio(frame)
            sent.append(frame)
            await asyncio.sleep(0.01)
            if len(server.links) == 2 and server.links[1].session is not None:
                break
        with contextlib.suppress(TimeoutError):
            await server.wait_until(
                lambda: len(server.session.audio_frames) >= len(sent), timeout=3
            )
    assert len(server.links) == 2
    assert b"".join(server.session.audio_frames) == b"".join(sent)


async def test_an_unexpected_drop_resumes_with_the_handle(server: FakeGeminiServer) -> None:
    server.script.default = TextReply("noted")
    async with session_for(server, modalities=["text"]) as session:
        session.send_message("remember blue")
        await until(session, "response.done")
        await server.wait_until(lambda: len(server.session.handles) >= 2)
        handle = server.session.handles[-1]
        await server.drop_connections()
        await server.wait_until(lambda: len(server.live_links()) == 1 and len(server.links) == 2)
        session.send_message("and red")
        events = await until(session, "response.done")
        assert session.status is TransportStatus.CONNECTED
    assert texts(events, "text.output") == ["noted"]
    assert len(server.sessions) == 1
    assert server.links[1].resumed_from == handle
    said = [t["parts"][0]["text"] for t in server.conversation]
    assert said == ["remember blue", "noted", "and red", "noted"]  # nothing replayed twice
    assert server.violations == []


async def _collect(session: RealtimeSession, into: list[SessionEvent], kind: str) -> None:
    async for event in session:
        into.append(event)
        if event.kind == kind:
            return


def _turn_complete(frame: dict[str, Any]) -> bool:
    return bool(frame.get("serverContent", {}).get("turnComplete"))


async def test_a_3_1_model_with_bundled_messages(server: FakeGeminiServer) -> None:
    """3.1 bundles a chunk's words with the chunk and ends a turn in one message, and takes text
    only as realtime input once the conversation is under way."""
    server.bundle = True
    server.script.default = AudioReply("One two three four five.", duration_ms=200)
    model = gemini.realtime(
        "gemini-3.1-flash-live-preview", api_key="g-test", base_url=server.base_url
    )
    async with RealtimeSession(AGENT, model=model) as session:
        session.send_message("first")
        first = await until(session, "response.done")
        session.send_message("second")
        second = await until(session, "response.done")
    for events in (first, second):
        assert texts(events, "transcript.output") == ["One two three four five."]
        assert events[-1].status == "completed"  # type: ignore[union-attr]
        delivered = sum(len(e.audio) for e in events if e.kind == "audio.output.delta")  # type: ignore[union-attr]
        assert delivered == 200 * BYTES_PER_MS_OUT
    assert [t["parts"][0]["text"] for t in server.conversation if t["role"] == "user"] == [
        "first",
        "second",
    ]
    assert server.violations == []


async def test_a_drop_the_server_has_not_noticed_yet_resumes_after_a_retry(
    server: FakeGeminiServer,
) -> None:
    """Gemini refuses a resume (1011) while it still takes the dropped socket for open; the
    connection tries again and the conversation goes on."""
    server.script.default = TextReply("noted")
    async with session_for(server, modalities=["text"]) as session:
        session.send_message("remember blue")
        await until(session, "response.done")
        await server.wait_until(lambda: len(server.session.handles) >= 2)
        await server.drop_connections(linger=0.3)
        await server.wait_until(
            lambda: any(link.session and not link.closed for link in server.links[1:]), timeout=10
        )
        session.send_message("and red")
        events = await until(session, "response.done")
    assert texts(events, "text.output") == ["noted"]
    refused = [link for link in server.links[1:] if link.session is None]
    assert refused  # at least one attempt met the 1011
    assert len(server.sessions) == 1
    said = [t["parts"][0]["text"] for t in server.conversation]
    assert said == ["remember blue", "noted", "and red", "noted"]
    assert server.violations == []


@tool
async def slow_lookup(query: str) -> str:
    """Look something up (slowly)."""
    await asyncio.sleep(30)
    return f"found {query}"


async def test_speaking_over_a_tool_call_withdraws_it(server: FakeGeminiServer) -> None:
    """Gemini withdraws a call the user talked over (``toolCallCancellation``): the session
    cancels the running tool and the user's new turn is answered."""
    server.script.on("look", ToolCallReply("slow_lookup", {"query": "flights"}))
    server.script.default = AudioReply("Okay, what else?", duration_ms=200)
    server.script.input_transcript = "never mind"
    agent = RealtimeAgent(id="slow", name="Slow", instructions="Be brief.", tools=[slow_lookup])
    model = gemini.realtime(api_key="g-test", base_url=server.base_url)
    async with RealtimeSession(agent, model=model) as session:
        session.send_message("look up flights")
        await until(session, "tool.call")
        speech = tone(300, sample_rate=24000, amplitude=0.4) + bytes(600 * 48)
        for start in range(0, len(speech), 960):
            session.send_audio(speech[start : start + 960])
        events = await until(session, "transcript.output")
    call_id = next(f for f in server.sent if "toolCall" in f)["toolCall"]["functionCalls"][0]["id"]
    assert {"toolCallCancellation": {"ids": [call_id]}} in server.sent
    assert [e.call_id for e in events if e.kind == "tool.cancelled"] == [call_id]  # type: ignore[union-attr]
    assert texts(events, "transcript.output") == ["Okay, what else?"]
    found = [f for f in server.received if "toolResponse" in f and "found" in json.dumps(f)]
    assert found == []  # the tool never finished
    assert server.violations == []


async def test_an_update_mid_call_changes_the_instructions_with_nothing_lost(
    server: FakeGeminiServer,
) -> None:
    """``session.update(instructions=...)`` mid-call: the connection moves to a socket whose
    setup carries the new instructions (resuming the conversation), the next answer follows
    them, the microphone's frames reach the session once each, and the app sees no reconnect."""
    server.script.default = TextReply("noted")
    server.when_instructed("french", TextReply("Bonjour."))
    frames = marked_frames(90)
    statuses: list[str] = []
    config = {"modalities": ["text"], "input_audio_format": AudioFormat.pcm16(IN_RATE)}
    async with session_for(server, **config) as session:
        session.on("status", lambda e: statuses.append(e.status))
        session.send_message("remember blue")
        await until(session, "response.done")
        for frame in frames[:30]:
            session.send_audio(frame)
            await asyncio.sleep(0)
        session.update(instructions="Answer in French.")
        for frame in frames[30:60]:  # while the connection moves to the new socket
            session.send_audio(frame)
            await asyncio.sleep(0)
        await until(session, "session.updated")
        for frame in frames[60:]:
            session.send_audio(frame)
        session.send_message("and red")
        events = await until(session, "response.done")
        assert session.status is TransportStatus.CONNECTED
    assert texts(events, "text.output") == ["Bonjour."]
    assert len(server.links) == 2 and len(server.sessions) == 1
    resumed = server.links[1].received[0]["setup"]
    assert resumed["systemInstruction"] == {"parts": [{"text": "Answer in French."}]}
    assert server.links[1].resumed_from == server.session.handles[-3]  # the first answer's
    assert b"".join(server.session.audio_frames) == b"".join(frames)  # once each, in order
    said = [t["parts"][0]["text"] for t in server.conversation]
    assert said == ["remember blue", "noted", "and red", "Bonjour."]
    assert "reconnecting" not in statuses and session.reconnects == 0
    assert [e for e in events if e.kind == "session.error"] == []
    assert server.violations == []
