"""A browser or an OpenAI client talking to a Gemini- or ElevenLabs-backed agent.

The voicewire server (``create_app`` on uvicorn, 127.0.0.1) backed by ``gemini.realtime`` pointed
at :class:`~voicewire.testing.FakeGeminiServer`, or by ``elevenlabs.realtime`` pointed at
:class:`~voicewire.testing.FakeElevenLabsServer`; a raw WebSocket client speaking the OpenAI GA
protocol (every frame it gets checked strictly against the ``openai`` package's types) does what
a browser does: a typed turn (``conversation.item.create`` + ``response.create``), a turn that
runs the agent's tool on the server, and a barge-in (speech over the answer, then the
``conversation.item.truncate`` of what it played). No error event, the session's history as the
user heard it, and no frame the provider's fake finds invalid. ``RealtimeClient`` goes through
the same server too.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.server.conftest import (
    WEATHER_CALLS,
    RawClient,
    Served,
    get_weather,
    raw_client,
    serve,
    user_text,
)
from voicewire import RealtimeAgent, RealtimeClient
from voicewire.protocol import (
    AudioPart,
    MessageItem,
    RealtimeModel,
    SessionConfig,
    TextPart,
    TranscriptionConfig,
)
from voicewire.server import CLIENT_SESSION_FIELDS, create_app
from voicewire.session import RealtimeSession
from voicewire.testing import AudioReply, Script, ToolCallReply, silence, tone

pytestmark = pytest.mark.timeout(60)


def _agent() -> RealtimeAgent:
    WEATHER_CALLS.clear()
    return RealtimeAgent(
        id="concierge", name="Concierge", instructions="Be brief.", tools=[get_weather]
    )


def _script(script: Script) -> None:
    script.default = AudioReply("Hello from the model.", duration_ms=400)
    script.on(
        "weather",
        ToolCallReply(
            "get_weather",
            {"city": "Paris"},
            then=AudioReply("It is sunny in Paris.", duration_ms=400),
        ),
    )
    script.on("story", AudioReply("A very long story.", duration_ms=4000, pace=0.02))
    script.input_transcript = "stop please"


@dataclass
class Backend:
    """A provider's fake server and the model pointed at it."""

    name: str
    server: Any
    model: RealtimeModel

    def problems(self) -> list[str]:
        found: list[str] = list(self.server.violations)
        found += list(getattr(self.server, "own_problems", []))
        return found


@asynccontextmanager
async def gemini_backend() -> AsyncIterator[Backend]:
    from voicewire.providers import gemini
    from voicewire.testing import FakeGeminiServer

    async with FakeGeminiServer(api_key="g-test") as server:
        _script(server.script)
        yield Backend("gemini", server, gemini.realtime(api_key="g-test", base_url=server.base_url))


@asynccontextmanager
async def elevenlabs_backend() -> AsyncIterator[Backend]:
    from voicewire.providers import elevenlabs
    from voicewire.testing import FakeElevenLabsServer
    from voicewire.testing.fake_elevenlabs import AgentConfig

    # The agent as configured at ElevenLabs: its client tool declared, its prompt overridable
    # (the voicewire agent's instructions are sent as that override).
    agent = AgentConfig(
        client_tools=frozenset({"get_weather"}),
        enabled_overrides=frozenset({"agent.prompt.prompt"}),
    )
    async with FakeElevenLabsServer(agent_id="agent_x", api_key="xi-test", agent=agent) as server:
        _script(server.script)
        model = elevenlabs.realtime("agent_x", api_key="xi-test", base_url=server.base_url)
        yield Backend("elevenlabs", server, model)


BACKENDS: dict[str, Callable[[], Any]] = {
    "gemini": gemini_backend,
    "elevenlabs": elevenlabs_backend,
}


@pytest.fixture(params=list(BACKENDS))
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    async with BACKENDS[request.param]() as running:
        yield running


def _app(backend: Backend) -> Any:
    """The server, asking its model to transcribe the user (as an app that shows a transcript
    does): without it Gemini says nothing of what the user said."""
    config = SessionConfig(transcription=TranscriptionConfig())
    return create_app(_agent(), backend.model, session_config=config)


def _session(served: Served) -> RealtimeSession:
    [relay] = served.server.relays
    return relay.session


def _text_of(item: Any) -> str:
    assert isinstance(item, MessageItem)
    return "".join(
        part.text if isinstance(part, TextPart) else part.transcript or ""
        for part in item.content
        if isinstance(part, TextPart | AudioPart)
    )


async def _answer(client: RawClient) -> str:
    """The next answer's words (``response.output_audio_transcript.done``). Not its
    ``response.done``: ElevenLabs never says when the agent has finished, so an answer stays open
    until the user takes the next turn."""
    [*_, done] = await client.until("response.output_audio_transcript.done", timeout=15)
    text: str = done["transcript"]
    return text


async def _typed_turn(client: RawClient, text: str) -> str:
    """What a browser does for a typed message; the answer's words."""
    await client.send(user_text(text))
    await client.send({"type": "response.create"})
    return await _answer(client)


def _check_transcripts(frames: list[dict[str, Any]]) -> None:
    """Each answer's transcript deltas add up to its done transcript, and none follows it (a
    browser appends every delta to what it shows)."""
    deltas: dict[str, str] = {}
    finished: dict[str, str] = {}
    for frame in frames:
        item = frame.get("item_id", "")
        if frame["type"] == "response.output_audio_transcript.delta":
            assert item not in finished, f"a transcript delta of {item} after its done"
            deltas[item] = deltas.get(item, "") + frame["delta"]
        elif frame["type"] == "response.output_audio_transcript.done":
            finished[item] = frame["transcript"]
    assert finished and all(deltas.get(item) == text for item, text in finished.items())


async def _speak(client: RawClient, audio: bytes, chunk: int = 960) -> None:
    """Stream 24 kHz PCM16 ``audio`` as 20 ms appends (as a browser's microphone does)."""
    for start in range(0, len(audio), chunk):
        piece = base64.b64encode(audio[start : start + chunk]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": piece})
        await asyncio.sleep(0.005)


async def test_a_typed_turn_and_a_tool_call(backend: Backend) -> None:
    async with serve(_app(backend)) as served:
        async with raw_client(served) as client:
            hello = await _typed_turn(client, "Hello?")
            # The user reads the answer before typing again: the model's link idles a while
            # (ElevenLabs: the connection lets out the end of the resampled audio, then reads on).
            await asyncio.sleep(0.5)
            weather = await _typed_turn(client, "What is the weather in Paris?")
            last = await _typed_turn(client, "Thanks!")
            history = [
                (item.role, _text_of(item))
                for item in _session(served).history.items
                if isinstance(item, MessageItem)
            ]
        await served.wait_idle()
    assert "error" not in client.types(), [f for f in client.frames if f["type"] == "error"]
    assert hello == last == "Hello from the model."
    assert WEATHER_CALLS == ["Paris"]
    assert weather == "It is sunny in Paris."
    done = [f["response"] for f in client.frames if f["type"] == "response.done"]
    assert [d["status"] for d in done[:2]] == ["completed", "completed"]
    assert [d["output"][0]["content"][0]["transcript"] for d in done[:2]] == [hello, weather]
    _check_transcripts(client.frames)
    # The tool ran on the server: the client never sees a function call or its output.
    shown = [f["item"]["type"] for f in client.frames if f["type"] == "conversation.item.added"]
    assert set(shown) == {"message"}
    assert history == [
        ("user", "Hello?"),
        ("assistant", "Hello from the model."),
        ("user", "What is the weather in Paris?"),
        ("assistant", "It is sunny in Paris."),
        ("user", "Thanks!"),
        ("assistant", "Hello from the model."),
    ]
    assert backend.problems() == []


async def test_a_barge_in_with_a_truncate(backend: Backend) -> None:
    async with serve(_app(backend)) as served:
        async with raw_client(served) as client:
            await client.send(user_text("Tell me a story."))
            await client.send({"type": "response.create"})
            [*_, first] = await client.until("response.output_audio.delta", timeout=15)
            item_id = first["item_id"]
            speaking = asyncio.create_task(_speak(client, tone(400, amplitude=0.4) + silence(900)))
            await client.until("input_audio_buffer.speech_started", timeout=15)
            # The browser stops playing and says how much the user heard.
            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": 120,
                }
            )
            frames = await client.until("conversation.item.truncated", timeout=15)
            await speaking
            answer = await _answer(client)  # to what the user said over the story
            session = _session(served)
            cut_at = session.history.truncated_at.get(item_id)
            heard = [
                _text_of(item)
                for item in session.history.items
                if isinstance(item, MessageItem) and item.role == "user"
            ]
        await served.wait_idle()
    assert "error" not in client.types(), [f for f in client.frames if f["type"] == "error"]
    truncated = frames[-1]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 120)
    assert cut_at == 120
    assert heard == ["Tell me a story.", "stop please"]
    assert answer == "Hello from the model."
    [story] = [f for f in client.frames if f["type"] == "response.done"][:1]
    assert story["response"]["status"] == "cancelled"
    assert backend.problems() == []


async def test_a_browser_typing_over_an_answer(backend: Backend) -> None:
    """What voicewire.js does for a message typed while an answer is open (an ElevenLabs answer
    stays open until the user's next turn): the message, ``response.cancel``, and
    ``response.create`` once ``response.done`` came. The model cannot cancel nor be asked, but
    stops for the new message and answers it by itself: no error."""
    async with serve(_app(backend)) as served:
        async with raw_client(served) as client:
            hello = await _typed_turn(client, "Hello?")
            await client.send(user_text("What is the weather in Paris?"))
            await client.send({"type": "response.cancel"})
            await client.until("response.done", timeout=15)
            await client.send({"type": "response.create"})
            weather = await _answer(client)
            history = [
                (item.role, _text_of(item))
                for item in _session(served).history.items
                if isinstance(item, MessageItem)
            ]
        await served.wait_idle()
    errors = [f["error"] for f in client.frames if f["type"] == "error"]
    # OpenAI's own answer to a cancel that lost the race with the answer's end, which
    # voicewire.js ignores; nothing else.
    assert all(e["code"] == "response_cancel_not_active" for e in errors), errors
    assert (hello, weather) == ("Hello from the model.", "It is sunny in Paris.")
    assert history == [
        ("user", "Hello?"),
        ("assistant", "Hello from the model."),
        ("user", "What is the weather in Paris?"),
        ("assistant", "It is sunny in Paris."),
    ]
    assert backend.problems() == []


async def test_the_openai_package_client_through_the_server(backend: Backend) -> None:
    from openai import AsyncOpenAI

    async with serve(_app(backend)) as served:
        client = AsyncOpenAI(base_url=f"{served.http}/v1", api_key=served.token(), max_retries=0)
        types: list[str] = []
        async with client.realtime.connect(model="gpt-realtime") as connection:
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "What is the weather?"}],
                }
            )
            await connection.response.create()
            async with asyncio.timeout(15):
                async for event in connection:  # the SDK's own parsing of every event
                    types.append(event.type)
                    if event.type == "response.output_audio_transcript.done":
                        said = event.transcript
                        break
        await served.wait_idle()
    assert said == "It is sunny in Paris."
    assert "error" not in types and WEATHER_CALLS == ["Paris"]
    assert backend.problems() == []


async def test_openais_agents_sdk_through_the_server(backend: Backend) -> None:
    """The Agents SDK states its own instructions, voice, turn detection, modalities and
    transcription model on connect; an app serving it on a model that cannot change those
    mid-session leaves them to its agent (``client_session_fields``), and the SDK's app sees no
    error (the SDK turns every ``error`` event, and every frame it cannot validate, into one)."""
    from tests.agents_sdk.test_realtime_runner import assistant_said, sdk_client, turn_ended

    fields = CLIENT_SESSION_FIELDS - {
        "instructions",
        "voice",
        "turn_detection",
        "modalities",
        "transcription",
    }
    config = SessionConfig(transcription=TranscriptionConfig())
    app = create_app(_agent(), backend.model, session_config=config, client_session_fields=fields)
    async with serve(app) as served, sdk_client(served) as client:
        await client.session.send_message("What is the weather in Paris?")
        await client.until(lambda e: turn_ended(e) and "sunny" in " ".join(assistant_said(client)))
    assert client.errors() == []
    assert assistant_said(client) == ["It is sunny in Paris."]
    assert WEATHER_CALLS == ["Paris"]
    assert backend.problems() == []


async def test_realtime_client_through_the_server(backend: Backend) -> None:
    from voicewire.providers import openai

    async with serve(_app(backend)) as served:
        # The app's RealtimeClient, its model the voicewire server (an OpenAI-protocol endpoint).
        upstream = openai.realtime(base_url=f"ws://127.0.0.1:{served.port}/v1")
        client = RealtimeClient(RealtimeAgent(id="app", name="App", instructions=""), upstream)
        said: list[str] = []
        done = asyncio.Event()

        def note(event: Any) -> None:
            if event.kind == "transcript.output":
                said.append(event.text)
                done.set()

        client.on("transcript.output", note)
        await client.connect(served.server.tokens.issue())
        client.send_message("Hello?")
        await asyncio.wait_for(done.wait(), 15)
        await client.disconnect()
        await served.wait_idle()
    assert said == ["Hello from the model."]
    assert backend.problems() == []


async def test_openais_agents_sdk_changes_a_gemini_session_live() -> None:
    """Gemini takes the Agents SDK's ``session.update`` on connect (its instructions and voice)
    by moving to a socket with the new setup: an app leaves only the SDK's semantic turn
    detection, which Gemini lacks, to its agent; no error, and the answer comes from the
    session as resumed."""
    from tests.agents_sdk.test_realtime_runner import assistant_said, sdk_client, turn_ended

    async with gemini_backend() as backend:
        config = SessionConfig(transcription=TranscriptionConfig())
        fields = CLIENT_SESSION_FIELDS - {"turn_detection"}
        app = create_app(
            _agent(), backend.model, session_config=config, client_session_fields=fields
        )
        async with serve(app) as served, sdk_client(served) as client:
            await client.session.send_message("What is the weather in Paris?")
            await client.until(
                lambda e: turn_ended(e) and "sunny" in " ".join(assistant_said(client))
            )
        assert client.errors() == []
        assert assistant_said(client) == ["It is sunny in Paris."]
        server = backend.server
        assert len(server.sessions) == 1 and len(server.links) >= 2
        setup = server.links[-1].received[0]["setup"]
        assert setup["systemInstruction"]["parts"][0]["text"] == "Talk to the server."
        assert setup["sessionResumption"]["handle"] in server.session.handles
        assert backend.problems() == []
