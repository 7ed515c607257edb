"""An OpenAI client in front of a model that lacks events it sends (as Gemini and ElevenLabs do):
what the server honours itself and what it refuses with a clear error (server/model_gaps.py).

The model here is the scripted model declaring a Gemini/ElevenLabs-like set of capabilities and
behaving like one: it answers each typed user message by itself (no ``response.create``), stops
its answer when the user types over it, and goes on after tool results by itself. It records
whatever the session sends it, so a test sees that nothing it cannot take ever reaches it.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from voicewire import RealtimeAgent
from voicewire.protocol import (
    AudioInputAppend,
    ClientEvent,
    ConnectOptions,
    ItemCreate,
    MessageItem,
    RealtimeCapabilities,
    ResponseCreate,
    ResponseInterrupted,
    SessionConfig,
    SessionUpdate,
    ToolResult,
    TranscriptionConfig,
    TurnDetection,
    UnsupportedEventError,
)
from voicewire.providers import openai
from voicewire.server import create_app
from voicewire.testing import (
    AudioReply,
    FakeRealtimeServer,
    ScriptedModel,
    TextReply,
    ToolCallReply,
    tone,
)
from voicewire.testing.scripted_connection import ScriptedConnection

from .conftest import WEATHER_CALLS, RawClient, raw_client, serve, user_text

pytestmark = pytest.mark.timeout(30)

LIMITED = RealtimeCapabilities(
    item_truncate=False,
    item_delete=False,
    response_create=False,
    response_cancel=False,
    input_commit=False,
    input_clear=False,
    activity_signals=False,
    manual_turns=False,
    live_instructions=False,
    live_tools=False,
    live_voice="never",
    live_turn_detection=False,
    live_audio_formats=False,
    live_modalities=False,
    live_transcription=False,
    transcription_model=False,
)
"""What an ElevenLabs agent can take (Gemini takes a little more). Like an ElevenLabs agent's
connection, the model's refuses every ``session.update``: nothing may reach it."""


class AutoReplyModel(ScriptedModel):
    """A scripted model with :data:`LIMITED` capabilities that replies by itself."""

    def __init__(
        self,
        capabilities: RealtimeCapabilities = LIMITED,
        *,
        speech_events: bool = True,
        **kwargs: Any,
    ) -> None:
        """``speech_events=False``: like Gemini and ElevenLabs, the model stops its answer when
        it hears the user (any input audio, here) and says only that it was interrupted."""
        super().__init__(model_id="limited-1", **kwargs)
        self._capabilities = capabilities
        self.speech_events = speech_events
        self.refused_but_sent: list[str] = []

    @property
    def provider(self) -> str:
        return "limited"

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return self._capabilities

    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        connection = await super().connect(options)
        take = connection.send
        missing = self._capabilities.unsupported_client_events()

        def interrupted() -> None:
            run = connection._run
            if run is not None and run.cancel("turn_detected"):
                connection._emit(ResponseInterrupted(run.id))

        def send(event: ClientEvent) -> None:
            if event.kind in missing or isinstance(event, SessionUpdate):
                self.refused_but_sent.append(event.kind)
            if isinstance(event, SessionUpdate):
                raise UnsupportedEventError("limited cannot take session.update")
            if isinstance(event, AudioInputAppend) and not self.speech_events:
                asyncio.get_running_loop().call_soon(interrupted)  # as if from its socket
                return
            take(event)
            if _is_user_text(event) or isinstance(event, ToolResult):
                run = connection._run  # a new user turn stops the answer under way
                if run is not None:
                    run.cancel("turn_detected")
                    connection._run = None
                take(ResponseCreate())  # the model answers by itself

        connection.send = send  # type: ignore[method-assign]
        return connection


def _is_user_text(event: ClientEvent) -> bool:
    return (
        isinstance(event, ItemCreate)
        and isinstance(event.item, MessageItem)
        and event.item.role == "user"
    )


@pytest.fixture
def limited() -> AutoReplyModel:
    model = AutoReplyModel()
    model.script.default = TextReply("Hello from a limited model.")
    model.script.on("long", AudioReply("A long spoken answer.", duration_ms=3000, pace=0.01))
    model.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("It is sunny in Paris.")),
    )
    return model


def refused(model: AutoReplyModel) -> list[str]:
    return model.refused_but_sent


async def expect_error(client: RawClient, event_id: str, wire: str) -> dict[str, Any]:
    """The next ``error`` frame (other frames may come first), checked to name the model."""
    [*_, error] = await client.until("error")
    body: dict[str, Any] = error["error"]
    assert body["event_id"] == event_id
    assert body["type"] == "invalid_request_error"
    assert wire in body["message"] and "limited model 'limited-1'" in body["message"]
    return body


async def still_serving(client: RawClient) -> list[dict[str, Any]]:
    """A typed message is still answered: the frames up to its reply's ``response.done``."""
    await client.send(user_text("Still there?"))
    await client.send({"type": "response.create"})
    frames = await client.until("response.done")
    assert "error" not in [f["type"] for f in frames]
    return frames


async def spoken_answer(client: RawClient) -> str:
    """Ask for the long spoken answer; the id of its item once its first audio arrives."""
    await client.send(user_text("Tell me something long."))
    await client.send({"type": "response.create"})
    [*_, delta] = await client.until("response.output_audio.delta")
    item_id: str = delta["item_id"]
    return item_id


async def test_a_text_turn_and_a_tool_call_need_no_response_create_at_the_model(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        await client.send(user_text("Hi there", event_id="evt_hi"))
        await client.send({"type": "response.create", "event_id": "evt_create"})
        [*_, done] = await client.until("response.done")
        await client.send(user_text("What is the weather?"))
        await client.send({"type": "response.create"})
        [*_, weather] = await client.until("response.done")
    assert "error" not in client.types()
    assert done["response"]["status"] == "completed"
    assert done["response"]["output"][0]["content"][0]["text"] == "Hello from a limited model."
    assert WEATHER_CALLS == ["Paris"]
    assert weather["response"]["output"][0]["content"][0]["text"] == "It is sunny in Paris."
    assert refused(limited) == []


async def test_a_truncate_cuts_the_history_and_is_answered_as_openai_would(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        item_id = await spoken_answer(client)
        await client.send(
            {
                "type": "conversation.item.truncate",
                "event_id": "evt_cut",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 40,
            }
        )
        [*_, truncated] = await client.until("conversation.item.truncated")
        [relay] = served.server.relays
        cut_at = relay.session.history.truncated_at.get(item_id)
        # What had arrived of the answer then, kept with the cut (the share of its words heard
        # when it is replayed or stored, long after the playback tracker forgot the item).
        arrived = relay.session.history.received_at_cut.get(item_id)
        since = relay.session.playback.received_ms(item_id)
        await client.send(
            {
                "type": "conversation.item.truncate",
                "event_id": "evt_unknown",
                "item_id": "item_nobody_saw",
                "content_index": 0,
                "audio_end_ms": 10,
            }
        )
        [*_, unknown] = await client.until("error")
    assert truncated["item_id"] == item_id
    assert truncated["audio_end_ms"] == 40 and truncated["content_index"] == 0
    assert cut_at == 40
    assert arrived is not None and 0 < arrived <= since
    assert unknown["error"]["code"] == "item_truncate_invalid_item_id"
    assert "error" not in client.types()[: client.types().index("conversation.item.truncated")]
    assert refused(limited) == []


async def test_response_create_with_nothing_to_answer_or_with_settings_is_refused(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        await client.send({"type": "response.create", "event_id": "evt_nothing"})
        nothing = await expect_error(client, "evt_nothing", "response.create")
        await client.send(user_text("Hi"))
        await client.send(
            {
                "type": "response.create",
                "event_id": "evt_settings",
                "response": {"instructions": "Answer in French."},
            }
        )
        settings = await expect_error(client, "evt_settings", "response.create")
        await client.until("response.done")  # the model answered the user by itself
        frames = await still_serving(client)
    assert nothing["code"] == settings["code"] == "unsupported_event"
    assert "answers each user turn by itself" in nothing["message"]
    assert frames[-1]["response"]["status"] == "completed"
    assert refused(limited) == []


async def test_response_create_during_an_answer_with_nothing_new_is_openais_error(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        await spoken_answer(client)
        await client.send({"type": "response.create", "event_id": "evt_again"})
        [*_, error] = await client.until("error")
        [*_, done] = await client.until("response.done")
    assert error["error"]["code"] == "conversation_already_has_active_response"
    assert error["error"]["event_id"] == "evt_again"
    assert done["response"]["status"] == "completed"
    assert refused(limited) == []


async def test_response_cancel_is_refused_unless_the_model_is_stopping_anyway(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        await spoken_answer(client)
        await client.send({"type": "response.cancel", "event_id": "evt_stop"})
        body = await expect_error(client, "evt_stop", "response.cancel")
        [*_, first] = await client.until("response.done")  # it went on to the end
        # What a browser does when the user types over the answer: the new message, a cancel,
        # and response.create once the answer is done. The model stops for the new message.
        await spoken_answer(client)
        await client.send(user_text("Never mind.", event_id="evt_typed"))
        await client.send({"type": "response.cancel", "event_id": "evt_cancel"})
        [*_, cancelled] = await client.until("response.done")
        await client.send({"type": "response.create", "event_id": "evt_again"})
        [*_, answer] = await client.until("response.done")
    assert body["code"] == "unsupported_event"
    assert first["response"]["status"] == "completed"
    assert cancelled["response"]["status"] == "cancelled"
    assert answer["response"]["output"][0]["content"][0]["text"] == "Hello from a limited model."
    assert client.types().count("error") == 1
    assert refused(limited) == []


async def test_commit_and_clear_on_a_model_that_detects_turns_itself(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    silence = {"type": "input_audio_buffer.append", "audio": "AAAAAAAAAAA="}
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_empty"})
        [*_, empty] = await client.until("error")
        await client.send({"type": "input_audio_buffer.clear", "event_id": "evt_clear0"})
        [*_, cleared] = await client.until("input_audio_buffer.cleared")
        await client.send(silence)
        await client.send({"type": "input_audio_buffer.clear", "event_id": "evt_clear1"})
        heard = await expect_error(client, "evt_clear1", "input_audio_buffer.clear")
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        frames = await still_serving(client)  # the commit was taken without a word
    assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
    assert empty["error"]["event_id"] == "evt_empty"
    assert cleared["type"] == "input_audio_buffer.cleared"
    assert "already heard" in heard["message"]
    assert frames[-1]["response"]["status"] == "completed"
    assert client.types().count("error") == 2
    assert refused(limited) == []


async def test_commit_under_manual_turns_and_delete_are_refused(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    app = create_app(
        agent, limited, session_config=SessionConfig(turn_detection=TurnDetection("manual"))
    )
    silence = {"type": "input_audio_buffer.append", "audio": "AAAAAAAAAAA="}
    async with serve(app) as served, raw_client(served) as client:
        await client.send(silence)
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        commit = await expect_error(client, "evt_commit", "input_audio_buffer.commit")
        await client.send(user_text("Hi"))
        await client.send({"type": "response.create"})
        [*_, added, _] = await client.until("conversation.item.done")
        await client.until("response.done")
        await client.send(
            {
                "type": "conversation.item.delete",
                "event_id": "evt_delete",
                "item_id": added["item"]["id"],
            }
        )
        delete = await expect_error(client, "evt_delete", "conversation.item.delete")
        await still_serving(client)
    assert commit["code"] == delete["code"] == "unsupported_event"
    assert "keeps its own context" in delete["message"]
    assert refused(limited) == []


async def test_a_browser_session_update_of_the_default_formats_is_no_change(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    fmt = {"type": "audio/pcm", "rate": 24000}
    browser = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"format": fmt}, "output": {"format": fmt}},
        },
    }
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        await client.send(browser)
        [*_, updated] = await client.until("session.updated")
        await client.send({**browser, "session": {"type": "realtime", "instructions": "Shout."}})
        [*_, error] = await client.until("error")
    assert updated["session"]["audio"]["output"]["format"] == fmt
    assert error["error"]["code"] == "configuration_error"
    assert error["error"]["message"] == (
        "session.update was not applied: instructions: the limited model 'limited-1' cannot "
        "change its instructions mid-session"
    )
    assert client.types().count("error") == 1


async def test_an_sdks_first_update_restating_what_the_model_does_is_no_change(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    """OpenAI's Agents SDK states audio output and its transcription model on connect: audio is
    what the model does, and it transcribes with its own recogniser, so neither is a change (and
    nothing reaches a model that takes no session.update). A real change is a clear error."""
    sdk = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        },
    }
    text_only = {
        "type": "session.update",
        "session": {"type": "realtime", "output_modalities": ["text"]},
    }
    config = SessionConfig(transcription=TranscriptionConfig(language="en"))
    app = create_app(agent, limited, session_config=config)
    async with serve(app) as served, raw_client(served) as client:
        await client.send(sdk)
        [*_, updated] = await client.until("session.updated")
        await client.send(text_only)
        [*_, error] = await client.until("error")
        frames = await still_serving(client)
    assert updated["session"]["output_modalities"] == ["audio"]
    assert updated["session"]["audio"]["input"]["transcription"] == {"language": "en"}
    assert error["error"]["code"] == "configuration_error"
    assert error["error"]["message"] == (
        "session.update was not applied: modalities: the limited model 'limited-1' cannot "
        "change its output from audio to text mid-session (set modalities in the session config "
        "it connects with)"
    )
    assert client.types().count("error") == 1 and frames
    assert refused(limited) == []


async def test_a_model_that_only_says_it_was_interrupted_still_gives_a_speech_started(
    agent: RealtimeAgent, limited: AutoReplyModel
) -> None:
    limited.speech_events = False
    speech = {"type": "input_audio_buffer.append", "audio": "AAAAAAAAAAA="}
    async with serve(create_app(agent, limited)) as served, raw_client(served) as client:
        item_id = await spoken_answer(client)
        await client.send(speech)
        barge_in = await client.until("input_audio_buffer.speech_started")
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 20,
            }
        )
        [*_, done] = await client.until("response.done")
        frames = await still_serving(client)
    started = barge_in[-1]
    assert started["audio_start_ms"] == 0  # the user's first audio
    assert "response.done" not in [f["type"] for f in barge_in]  # told before the answer ends
    assert done["response"]["status"] == "cancelled"
    assert client.types().count("input_audio_buffer.speech_started") == 1
    assert client.types().count("conversation.item.truncated") == 1
    assert "error" not in client.types()
    assert frames[-1]["response"]["status"] == "completed"


async def test_a_model_that_reports_speech_gives_one_speech_started_per_barge_in(
    agent: RealtimeAgent,
) -> None:
    speech = tone(200, amplitude=0.4)
    async with FakeRealtimeServer(api_key="sk-test") as upstream:
        upstream.script.default = AudioReply("A long story.", duration_ms=3000, pace=0.01)
        model = openai.realtime(api_key="sk-test", base_url=upstream.base_url)
        async with serve(create_app(agent, model)) as served, raw_client(served) as client:
            await client.send(user_text("story please"))
            await client.send({"type": "response.create"})
            await client.until("response.output_audio.delta")
            for start in range(0, len(speech), 960):
                chunk = base64.b64encode(speech[start : start + 960]).decode()
                await client.send({"type": "input_audio_buffer.append", "audio": chunk})
            [*_, done] = await client.until("response.done")
    assert done["response"]["status"] == "cancelled"
    assert client.types().count("input_audio_buffer.speech_started") == 1
    assert upstream.violations == []
