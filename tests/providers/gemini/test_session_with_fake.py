"""RealtimeSession on Gemini end to end: the real provider stack (model, connection, codec,
websockets) against the fake Gemini Live server on 127.0.0.1, whose wire JSON was written from
Google's documentation and google-genai's types, independently of this codec."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.test_session_e2e import RealTimeSpeaker, kinds, speak, until
from voicewire import RealtimeAgent, RealtimeSession, SessionConfig, tool
from voicewire.protocol import ConnectOptions, TranscriptionConfig, TransportStatus
from voicewire.providers import gemini
from voicewire.session import ReconnectPolicy, SessionEvent
from voicewire.testing import AudioReply, FakeGeminiServer, TextReply, ToolCallReply

pytestmark = pytest.mark.timeout(30)


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


AGENT = RealtimeAgent(id="helper", name="Helper", instructions="Be concise.", tools=[get_weather])


def session_for(server: FakeGeminiServer, channel: Any = None, **config: Any) -> RealtimeSession:
    model = gemini.realtime(api_key="g-test", base_url=server.base_url)
    options = ConnectOptions(session_config=SessionConfig(**config) if config else None)
    return RealtimeSession(
        AGENT,
        model=model,
        channel=channel,
        connect_options=options,
        reconnect=ReconnectPolicy(attempts=0),
    )


def texts(events: list[SessionEvent], *names: str) -> list[str]:
    return [e.text for e in events if e.kind in names]  # type: ignore[union-attr]


def clean(server: FakeGeminiServer) -> None:
    assert server.violations == []
    assert server.own_problems == []
    assert server.casing == []
    assert server.undeclared_tool_calls == []


async def test_text_turn() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        server.script.on("hello", TextReply("Hello from the fake."))
        async with session_for(server, modalities=["text"]) as session:
            session.send_message("hello there")
            events = await until(session, "response.done")
            assert session.status is TransportStatus.CONNECTED
        assert texts(events, "text.output") == ["Hello from the fake."]
        assert events[-1].status == "completed"  # type: ignore[union-attr]
        setup = server.received[0]["setup"]
        assert setup["systemInstruction"] == {"parts": [{"text": "Be concise."}]}
        assert setup["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
        clean(server)


async def test_spoken_turn_with_transcripts() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        server.script.hear("what time is it")
        server.script.default = AudioReply("It is noon.", duration_ms=400)
        speaker = RealTimeSpeaker()
        async with session_for(server, speaker, transcription=TranscriptionConfig()) as session:
            await until(session, "session.created")
            await speak(session, 300, 900)
            events = await until(session, "response.done")
            history = list(session.history.items)
        assert texts(events, "transcript.output") == ["It is noon."]
        assert texts(events, "transcript.input") == ["what time is it"]
        order = kinds(events)
        assert order.index("response.created") < order.index("audio.output.delta")
        assert abs(speaker.bytes_played - 400 * 48) <= 48 * 30
        roles = [getattr(i, "role", None) for i in history]
        assert roles.index("user") < roles.index("assistant")
        clean(server)


async def test_a_tool_call_runs_and_the_model_goes_on() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        server.script.on(
            "weather",
            ToolCallReply("get_weather", {"city": "Paris"}, then=AudioReply("Sunny in Paris.")),
        )
        async with session_for(server) as session:
            session.send_message("What's the weather in Paris?")
            events = await until(session, "transcript.output")
        order = kinds(events)
        assert (
            order.index("tool.call") < order.index("tool.output") < order.index("transcript.output")
        )
        responses = [f["toolResponse"] for f in server.received if "toolResponse" in f]
        [response] = responses
        call = response["functionResponses"][0]
        assert call["name"] == "get_weather"
        assert call["response"] == {"output": "sunny in Paris"}
        # Gemini goes on by itself after a tool response: no extra turnComplete was sent.
        completes = [
            f for f in server.received if f.get("clientContent", {}).get("turnComplete") is True
        ]
        assert len(completes) == 1
        clean(server)


async def test_go_away_mid_answer_loses_nothing() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        story = AudioReply("one two three four five six", duration_ms=1500, pace=0.01)
        server.script.on("story", story)
        server.script.default = TextReply("ok")
        speaker = RealTimeSpeaker()
        async with session_for(server, speaker) as session:
            session.send_message("tell me a story")
            await until(session, "audio.output.delta", count=3)
            await server.go_away("3s")
            events = await until(session, "response.done")
            session.send_message("and now?")
            events += await until(session, "response.done")
            assert session.status is TransportStatus.CONNECTED
        assert texts(events, "transcript.output")[0] == "one two three four five six"
        assert "session.error" not in kinds(events)
        assert len(server.links) == 2
        second = server.links[1].received
        handles = server.session.handles
        resumed = second[0]["setup"]["sessionResumption"]["handle"]
        assert resumed in handles and resumed != handles[0]  # the handle after the answer
        assert any("clientContent" in f for f in second)  # the next turn went on the new socket
        assert abs(speaker.bytes_played - 1500 * 48) <= 48 * 40  # every chunk of the answer
        clean(server)


async def test_barge_in_cuts_the_answer_once() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        story = AudioReply("one two three four five six seven eight", duration_ms=4000, pace=0.02)
        server.script.on("story", story)
        server.script.default = AudioReply("Sure, stopping.", duration_ms=300)
        server.script.hear("stop please")
        speaker = RealTimeSpeaker()
        async with session_for(server, speaker) as session:
            session.send_message("tell me a story")
            await until(session, "audio.output.delta", count=10)
            await speak(session, 300, 900)
            events = await until(session, "response.interrupted")
            events += await until(session, "response.done", count=2)
            history = list(session.history.items)
        assert kinds(events).count("response.interrupted") == 1
        assert speaker.interrupts == 1
        statuses = [e.status for e in events if e.kind == "response.done"]  # type: ignore[union-attr]
        assert statuses == ["cancelled", "completed"]
        assistant = [i for i in history if getattr(i, "role", None) == "assistant"]
        assert assistant[-1].text == "Sure, stopping."  # type: ignore[union-attr]
        clean(server)


async def test_a_dropped_socket_resumes_invisibly() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        server.script.default = TextReply("still here")
        async with session_for(server, modalities=["text"]) as session:
            await until(session, "session.created")
            await server.drop_connections()
            session.send_message("are you there?")
            events = await until(session, "response.done")
            assert session.status is TransportStatus.CONNECTED
        assert texts(events, "text.output") == ["still here"]
        assert "session.error" not in kinds(events)
        assert len(server.links) == 2 and len(server.sessions) == 1
        clean(server)


async def test_a_1007_close_is_a_clear_fatal_error() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        async with session_for(server) as session:
            await until(session, "session.created")
            await server.close_with(1007, "Request contains an invalid argument.")
            events = await until(session, "session.error")
        error = events[-1]
        assert error.code == "invalid_argument"  # type: ignore[union-attr]
        assert "invalid argument" in error.message  # type: ignore[union-attr]
        assert len(server.links) == 1


async def test_a_31_model_gets_text_as_realtime_input() -> None:
    async with FakeGeminiServer(api_key="g-test", bundle=True) as server:
        server.script.on("hello", AudioReply("Hi from three one.", duration_ms=300))
        model = gemini.realtime(
            "gemini-3.1-flash-live-preview", api_key="g-test", base_url=server.base_url
        )
        session = RealtimeSession(
            AGENT,
            model=model,
            connect_options=ConnectOptions(),
            reconnect=ReconnectPolicy(attempts=0),
        )
        async with session:
            session.send_message("hello")
            events = await until(session, "response.done")
            session.send_message("hello again")
            events += await until(session, "response.done")
        assert texts(events, "transcript.output") == ["Hi from three one."] * 2
        sent = [f for f in server.received if "setup" not in f]
        assert all("clientContent" not in f for f in sent)
        assert {"realtimeInput": {"text": "hello"}} in sent
        clean(server)


async def test_a_call_gemini_withdraws_gets_no_late_result() -> None:
    finished, stopped = asyncio.Event(), asyncio.Event()

    @tool
    async def slow_lookup(query: str) -> str:
        """Look something up, slowly."""
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            stopped.set()  # the session cancels a call Gemini withdrew
            raise
        finished.set()
        return "found"

    agent = RealtimeAgent(
        id="slow", name="Slow", instructions="Look things up.", tools=[slow_lookup]
    )
    async with FakeGeminiServer(api_key="g-test") as server:
        server.script.on("look", ToolCallReply("slow_lookup", {"query": "x"}))
        server.script.hear("never mind")
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        async with RealtimeSession(
            agent, model=model, reconnect=ReconnectPolicy(attempts=0)
        ) as session:
            session.send_message("look it up")
            events = await until(session, "tool.call")
            await speak(session, 300, 600)
            events += await until(session, "tool.cancelled")
            await stopped.wait()
            await asyncio.sleep(0.1)  # a result would be written now
        assert "tool.cancelled" in kinds(events) and not finished.is_set()
        assert not any("toolResponse" in f for f in server.received)
        clean(server)


async def test_a_minted_token_opens_and_resumes_a_session() -> None:
    """authenticate() against the fake's auth_tokens endpoint; a process without the key
    connects with the token alone, and resumes with it even where resuming spends a use."""
    async with FakeGeminiServer(api_key="g-test", resume_spends_use=True) as server:
        server.script.default = TextReply("token ok")
        minted = await gemini.realtime(api_key="g-test", base_url=server.base_url).authenticate()
        assert minted.token.startswith("auth_tokens/")
        keyless = gemini.realtime(base_url=server.base_url)
        session = RealtimeSession(
            AGENT,
            model=keyless,
            connect_options=ConnectOptions(
                session_config=SessionConfig(modalities=["text"]), credential=minted
            ),
            reconnect=ReconnectPolicy(attempts=0),
        )
        async with session:
            await until(session, "session.created")
            await server.drop_connections()
            session.send_message("still there?")
            events = await until(session, "response.done")
        assert texts(events, "text.output") == ["token ok"]
        assert "session.error" not in kinds(events)
        assert [link.resumed_from is not None for link in server.links] == [False, True]
        assert all("access_token=" in link.path for link in server.links)
        clean(server)


async def test_a_live_change_of_modalities_and_transcription_moves_to_a_new_setup() -> None:
    """Gemini fixes a socket's setup: text to audio (with the user transcribed) goes to a socket
    resumed with the new setup, and the next answer speaks."""
    async with FakeGeminiServer(api_key="g-test") as server:
        server.script.default = AudioReply("Hello there.", duration_ms=200)  # text if asked
        async with session_for(server, modalities=["text"]) as session:
            session.send_message("hello")
            events = await until(session, "response.done")
            session.update(modalities=["audio"], transcription=TranscriptionConfig())
            session.send_message("hello again")
            events += await until(session, "response.done")
        assert texts(events, "text.output") == ["Hello there."]
        assert texts(events, "transcript.output") == ["Hello there."]
        assert kinds(events).count("audio.output.done") == 1  # the second answer spoke
        first, second = (link.received[0]["setup"] for link in server.links)
        assert first["generationConfig"]["responseModalities"] == ["TEXT"]
        assert second["generationConfig"]["responseModalities"] == ["AUDIO"]
        assert "inputAudioTranscription" not in first and "inputAudioTranscription" in second
        assert second["sessionResumption"]["handle"]
        assert len(server.sessions) == 1
        clean(server)
