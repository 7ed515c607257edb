"""ScriptedModel: a deterministic in-process model, driven through a real RealtimeSession."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from voicewire import RealtimeAgent, RealtimeSession, SessionConfig, TurnDetection
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputCommit,
    ConnectionClosedError,
    ConnectOptions,
    ResponseCreate,
)
from voicewire.session import SessionEvent
from voicewire.testing import AudioReply, ScriptedModel, TextReply, silence, tone

from .conftest import WEATHER_CALLS

pytestmark = pytest.mark.timeout(10)


async def until(session: RealtimeSession, kind: str, count: int = 1) -> list[SessionEvent]:
    seen: list[SessionEvent] = []
    async for event in session:
        seen.append(event)
        if event.kind == kind:
            count -= 1
            if count == 0:
                return seen
    raise AssertionError(f"the session ended before {kind}: {[e.kind for e in seen]}")


def kinds(events: Sequence[SessionEvent]) -> list[str]:
    return [e.kind for e in events]


def session_for(agent: RealtimeAgent, model: ScriptedModel, **config: object) -> RealtimeSession:
    options = ConnectOptions(session_config=SessionConfig(**config)) if config else None  # type: ignore[arg-type]
    return RealtimeSession(agent, model=model, connect_options=options)


async def test_text_turn(agent: RealtimeAgent, model: ScriptedModel) -> None:
    async with session_for(agent, model) as session:
        session.send_message("hello")
        events = await until(session, "response.done")
    assert [k for k in kinds(events) if k.startswith("session.")] == [
        "session.created",
        "session.updated",
    ]
    texts = [e.text for e in events if e.kind == "text.output"]  # type: ignore[union-attr]
    assert texts == ["Hello from the server."]
    assert model.received_kinds() == ["item.create", "response.create"]
    assert model.connections == []


async def test_tool_call_runs_the_agent_tool(agent: RealtimeAgent, model: ScriptedModel) -> None:
    async with session_for(agent, model) as session:
        session.send_message("what's the weather?")
        events = await until(session, "response.done", count=2)
    assert WEATHER_CALLS == ["Paris"]
    assert "tool.call" in kinds(events)
    texts = [e.text for e in events if e.kind == "text.output"]  # type: ignore[union-attr]
    assert texts == ["It is sunny in Paris."]
    assert "tool.result" in model.received_kinds()


async def test_audio_reply_in_the_output_format(agent: RealtimeAgent) -> None:
    model = ScriptedModel()
    model.script.default = AudioReply("One two three.", duration_ms=400, chunk_ms=100)
    async with session_for(agent, model, output_audio_format=AudioFormat.pcmu()) as session:
        session.send_message("talk")
        events = await until(session, "response.done")
    audio = b"".join(e.audio for e in events if e.kind == "audio.output.delta")  # type: ignore[union-attr]
    assert len(audio) == 8000 * 400 // 1000  # G.711: one byte per sample at 8 kHz
    transcripts = [e.text for e in events if e.kind == "transcript.output"]  # type: ignore[union-attr]
    assert transcripts == ["One two three."]


async def test_manual_commit_transcribes_with_the_script(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    model.script.hear("what's the weather")
    async with session_for(agent, model, turn_detection=TurnDetection("manual")) as session:
        session.send_audio(tone(300))
        session.commit()  # manual: the session asks for the response itself
        events = await until(session, "response.done", count=2)
    assert [e.text for e in events if e.kind == "transcript.input"] == [  # type: ignore[union-attr]
        "what's the weather"
    ]
    assert WEATHER_CALLS == ["Paris"]
    assert model.input_audio_bytes == len(tone(300))


async def test_energy_vad_ends_the_turn_and_answers(agent: RealtimeAgent) -> None:
    model = ScriptedModel()
    model.script.default = TextReply("Heard you.")
    async with session_for(agent, model) as session:
        audio = tone(200, amplitude=0.4) + silence(300)
        for start in range(0, len(audio), 960):
            session.send_audio(audio[start : start + 960])
        events = await until(session, "response.done")
    order = [k for k in kinds(events) if k.startswith(("speech.", "audio.input", "response."))]
    assert order[:4] == [
        "speech.started",
        "speech.stopped",
        "audio.input.committed",
        "response.created",
    ]
    assert [e.text for e in events if e.kind == "text.output"] == ["Heard you."]  # type: ignore[union-attr]


async def test_echo_mode_sends_input_audio_back(agent: RealtimeAgent) -> None:
    model = ScriptedModel(echo=True)
    async with session_for(agent, model) as session:
        chunks = [tone(20, frequency=200 + 50 * i) for i in range(5)]
        for chunk in chunks:
            session.send_audio(chunk)
        session.commit()
        events = await until(session, "response.done")
    echoed = [e.audio for e in events if e.kind == "audio.output.delta"]  # type: ignore[union-attr]
    assert echoed == chunks


async def test_one_response_at_a_time_and_cancel(agent: RealtimeAgent) -> None:
    model = ScriptedModel()
    model.script.default = AudioReply("long answer", duration_ms=2000, chunk_ms=20, pace=0.02)
    async with session_for(agent, model) as session:
        session.send_message("talk")
        await until(session, "audio.output.delta")
        session.create_response()
        error = await until(session, "session.error")
        assert error[-1].code == "conversation_already_has_active_response"  # type: ignore[union-attr]
        session.interrupt()
        events = await until(session, "response.done")
    assert events[-1].status == "cancelled"  # type: ignore[union-attr]


async def test_closed_connection_refuses_events() -> None:
    model = ScriptedModel()
    connection = await model.connect()
    connection.send(AudioInputAppend(b"\x00\x00"))
    connection.send(AudioInputCommit())
    connection.send(ResponseCreate())
    await connection.close()
    with pytest.raises(ConnectionClosedError):
        connection.send(ResponseCreate())
    events = [event async for event in connection]
    assert events[0].kind == "session.created"
    assert model.connections == []
    credential = await ScriptedModel(api_key="sk-never-shown").authenticate()
    assert "sk-never-shown" not in credential.token
