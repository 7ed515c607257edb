"""OpenAI's Agents SDK as a client of voicewire's server (issue 9, case 9).

``agents.realtime.RealtimeRunner`` connects to ``WS /v1/realtime`` on a real uvicorn server on
127.0.0.1 (``model_config`` with ``url`` and ``api_key``: a voicewire token); the server's
agent runs on the scripted model. The SDK validates every server event against the ``openai``
package's types and turns whatever fails, and every ``error`` event, into an error the app sees:
each test asserts that the app saw none. The SDK sends ``conversation.item.retrieve`` after each
input transcription, which the server answers from the session's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import agents.realtime as agents_realtime  # openai-agents, in the test extra
import pytest

from tests.server.conftest import Served, serve
from voicewire import RealtimeAgent as ServerAgent
from voicewire import tool
from voicewire.server import create_app
from voicewire.testing import AudioReply, ScriptedModel, ToolCallReply, silence, tone

pytestmark = pytest.mark.timeout(60)

SAMPLE_RATE = 24_000  # the SDK's default pcm16 rate
FRAME_MS = 20
WEATHER_CALLS: list[str] = []


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    WEATHER_CALLS.append(city)
    return f"sunny and 21 degrees in {city}"


def scripted_model() -> ScriptedModel:
    model = ScriptedModel(model_id="gpt-realtime")
    model.script.default = AudioReply("Hello from the server.", duration_ms=400)
    model.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=AudioReply("It is sunny in Paris.")),
    )
    model.script.on(
        "story", AudioReply("Once upon a time.", duration_ms=6000, pace=FRAME_MS / 1000)
    )
    model.script.input_transcript = "hello there"
    return model


class Client:
    """An Agents SDK realtime session, with every event it gave the app."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.events: list[Any] = []
        self._arrived = asyncio.Event()

    async def consume(self) -> None:
        async for event in self.session:
            self.events.append(event)
            self._arrived.set()

    async def until(self, predicate: Callable[[Any], bool], *, after: int = 0) -> Any:
        """The first event from index ``after`` on that satisfies ``predicate``."""
        async with asyncio.timeout(15):
            while True:
                for event in self.events[after:]:
                    if predicate(event):
                        return event
                self._arrived.clear()
                await self._arrived.wait()

    def raw(self) -> list[dict[str, Any]]:
        """The GA server events the SDK received."""
        return [
            event.data.data
            for event in self.events
            if event.type == "raw_model_event" and event.data.type == "raw_server_event"
        ]

    def raw_types(self) -> list[str]:
        return [str(event.get("type")) for event in self.raw()]

    def errors(self) -> list[Any]:
        """Every error the app was shown: session errors, model errors (``error`` events and
        server events the SDK could not validate) and model exceptions."""
        return [
            event
            for event in self.events
            if event.type == "error"
            or (event.type == "raw_model_event" and event.data.type in ("error", "exception"))
        ]

    async def speak(self, milliseconds: int) -> None:
        """A tone, then enough silence for the server's VAD to end the turn."""
        for chunk in _frames(tone(milliseconds, sample_rate=SAMPLE_RATE)):
            await self.session.send_audio(chunk)
        for chunk in _frames(silence(600, sample_rate=SAMPLE_RATE)):
            await self.session.send_audio(chunk)


def _frames(audio: bytes) -> list[bytes]:
    size = SAMPLE_RATE * 2 * FRAME_MS // 1000
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def turn_ended(event: Any) -> bool:
    return bool(event.type == "agent_end")


def server_event(event_type: str) -> Callable[[Any], bool]:
    """A predicate: the SDK received the GA server event ``event_type``."""

    def received(event: Any) -> bool:
        return bool(
            event.type == "raw_model_event"
            and event.data.type == "raw_server_event"
            and event.data.data.get("type") == event_type
        )

    return received


def assistant_said(client: Client) -> list[str]:
    """The transcripts of the assistant's items in the SDK's history."""
    history = next(e.history for e in reversed(client.events) if e.type == "history_updated")
    said: list[str] = []
    for item in history:
        if getattr(item, "role", None) == "assistant":
            said.extend(part.transcript or "" for part in item.content if part.type == "audio")
    return said


@asynccontextmanager
async def sdk_client(served: Served) -> AsyncIterator[Client]:
    runner = agents_realtime.RealtimeRunner(
        agents_realtime.RealtimeAgent(name="caller", instructions="Talk to the server.")
    )
    session = await runner.run(model_config={"url": served.ws_url, "api_key": served.token()})
    async with session:
        client = Client(session)
        consumer = asyncio.create_task(client.consume())
        try:
            yield client
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    WEATHER_CALLS.clear()
    model = scripted_model()
    agent = ServerAgent(
        id="concierge", name="Concierge", instructions="Be brief.", tools=[get_weather]
    )
    async with serve(create_app(agent, model)) as running:
        yield running


async def test_a_text_turn(served: Served) -> None:
    async with sdk_client(served) as client:
        await client.session.send_message("Hello?")
        await client.until(turn_ended)

        assert client.errors() == []
        assert assistant_said(client) == ["Hello from the server."]
        assert client.raw_types()[0] == "session.created"


async def test_a_spoken_turn_is_transcribed_and_retrieved(served: Served) -> None:
    """After an answer has been heard, the SDK retrieves the item it last played once the
    next input is transcribed (it needs a played item: a first spoken turn retrieves nothing)."""
    async with sdk_client(served) as client:
        await client.session.send_message("Hello?")
        first = await client.until(turn_ended)
        await client.speak(600)
        await client.until(turn_ended, after=client.events.index(first) + 1)
        await client.until(server_event("conversation.item.retrieved"))

        assert client.errors() == []
        assert "conversation.item.input_audio_transcription.completed" in client.raw_types()
        retrieved = next(e for e in client.raw() if e["type"] == "conversation.item.retrieved")
        played = [e for e in client.raw() if e["type"] == "response.output_audio.delta"]
        assert retrieved["item"]["id"] == played[0]["item_id"]
        assert retrieved["item"]["content"] == [
            {"type": "output_audio", "transcript": "Hello from the server."}
        ]
        assert assistant_said(client) == ["Hello from the server.", "Hello from the server."]


async def test_speaking_over_the_answer_interrupts_it(served: Served) -> None:
    async with sdk_client(served) as client:
        await client.session.send_message("Tell me a story.")
        await client.until(lambda e: e.type == "audio")  # the story is being told
        await client.speak(300)
        await client.until(lambda e: e.type == "audio_interrupted")
        story_done = await client.until(server_event("response.done"))
        # The next turn (the spoken one) is answered as usual.
        await client.until(turn_ended, after=client.events.index(story_done) + 1)

        assert client.errors() == []
        assert story_done.data.data["response"]["status"] == "cancelled"
        assert "input_audio_buffer.speech_started" in client.raw_types()


async def test_a_tool_on_the_server_agent_answers_the_sdk(served: Served) -> None:
    async with sdk_client(served) as client:
        await client.session.send_message("What is the weather in Paris?")
        await client.until(lambda e: turn_ended(e) and "sunny" in " ".join(assistant_said(client)))

        assert client.errors() == []
        assert WEATHER_CALLS == ["Paris"]  # the server's tool ran, on the server
        assert assistant_said(client) == ["It is sunny in Paris."]
        assert not [e for e in client.events if e.type in ("tool_start", "tool_end")]
        # One turn for the app: the model's turn that only called the tool is not shown.
        assert [e.type for e in client.events].count("agent_end") == 1
        assert not [e for e in client.raw() if "function_call" in str(e.get("item", {}))]
