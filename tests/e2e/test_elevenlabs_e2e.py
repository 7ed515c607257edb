"""RealtimeSession end to end on an ElevenLabs agent: the real provider stack (model, signed URLs,
connection, codec, websockets) against the fake ElevenLabs server on 127.0.0.1, whose wire JSON
is written from the platform's AsyncAPI and checked against it both ways."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from voicewire import RealtimeAgent, RealtimeSession, SessionConfig, tool
from voicewire.channels import WavChannel
from voicewire.channels.wav import read_wav, write_wav
from voicewire.protocol import (
    ConfigurationError,
    ConnectOptions,
    HandshakeError,
    TransportStatus,
    UrlCredential,
)
from voicewire.providers import elevenlabs
from voicewire.session import ReconnectPolicy, SessionEvent
from voicewire.testing import (
    AudioReply,
    FakeElevenLabsServer,
    TextReply,
    ToolCallReply,
    rms,
    tone,
)
from voicewire.testing.fake_elevenlabs import AgentConfig

from ..channels.twilio_support import eventually
from .test_session_e2e import RealTimeSpeaker, kinds, speak, until

pytestmark = pytest.mark.timeout(30)

BYTES_PER_MS = 48  # the app's PCM16 mono at 24 kHz
AGENT_ID = "agent_shop"


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


AGENT = RealtimeAgent(id="shop", name="Shop", instructions="Be concise.", tools=[get_weather])


def agent_config(**changes: Any) -> AgentConfig:
    """The agent at "ElevenLabs": our tool declared, the prompt override allowed."""
    base: dict[str, Any] = {
        "client_tools": frozenset({"get_weather"}),
        "enabled_overrides": frozenset({"agent.prompt.prompt", "conversation.text_only"}),
    }
    return AgentConfig(**(base | changes))


def fake(**options: Any) -> FakeElevenLabsServer:
    agent = options.pop("agent", None) or agent_config()
    return FakeElevenLabsServer(AGENT_ID, "xi-test", agent=agent, **options)


def session_for(
    server: FakeElevenLabsServer,
    channel: Any = None,
    *,
    api_key: str | None = None,
    credential: UrlCredential | None = None,
    **config: Any,
) -> RealtimeSession:
    model = elevenlabs.realtime(AGENT_ID, api_key=api_key, base_url=server.base_url)
    options = ConnectOptions(
        session_config=SessionConfig(**config) if config else None, credential=credential
    )
    return RealtimeSession(
        AGENT,
        model=model,
        channel=channel,
        connect_options=options,
        reconnect=ReconnectPolicy(attempts=0),
    )


def texts(events: list[SessionEvent], *names: str) -> list[str]:
    return [e.text for e in events if e.kind in names]  # type: ignore[union-attr]


def reply_sent(server: FakeElevenLabsServer, event_id: int) -> bool:
    """The fake has sent the whole reply of turn ``event_id`` (its last text part)."""
    return any(
        m["type"] == "agent_chat_response_part"
        and m["text_response_part"] == {"text": "", "type": "stop", "event_id": event_id}
        for m in server.sent
    )


class Recorder(RealTimeSpeaker):
    """A real-time speaker that also keeps each item's audio."""

    def __init__(self) -> None:
        super().__init__()
        self.audio: dict[str, bytearray] = {}
        self.heard_at_interrupt: int | None = None

    def interrupt(self) -> None:
        super().interrupt()
        if self.item is not None:
            self.heard_at_interrupt = len(self.audio.get(self.item, b""))

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        super().play(item_id, audio, content_index)
        self.audio.setdefault(item_id, bytearray()).extend(audio)


def clean(server: FakeElevenLabsServer) -> None:
    assert server.violations == []
    assert server.sent_violations == []
    assert server.undeclared_tool_calls == []


async def test_text_turn() -> None:
    async with fake() as server:
        server.script.on("hello", TextReply("Hello from the fake."))
        async with session_for(server, modalities=["text"]) as session:
            session.send_message("hello there")
            events = await until(session, "text.output")
            assert session.status is TransportStatus.CONNECTED
        assert texts(events, "text.output") == ["Hello from the fake."]
        initiation, message = server.received[:2]
        assert initiation["type"] == "conversation_initiation_client_data"
        override = initiation["conversation_config_override"]
        assert override["agent"]["prompt"]["prompt"] == "Be concise."
        assert override["conversation"]["text_only"] is True
        assert message == {"type": "user_message", "text": "hello there"}
        assert server.conversation == [
            {"role": "user", "text": "hello there", "event_id": 1},
            {"role": "agent", "text": "Hello from the fake.", "event_id": 1},
        ]
        clean(server)


async def test_spoken_turn_from_a_wav_file(tmp_path: Path) -> None:
    question, answer = tmp_path / "question.wav", tmp_path / "answer.wav"
    write_wav(question, tone(300, amplitude=0.5), 24000)
    async with fake() as server:
        server.script.hear("what time is it")
        server.script.default = AudioReply("It is noon.", duration_ms=400)
        channel = WavChannel(question, answer, realtime=False)
        async with session_for(server, channel) as session:
            events = await until(session, "transcript.output")
            await eventually(lambda: reply_sent(server, 1), "the reply sent")
            await channel.wait_sent()
            await eventually(lambda: channel.reply_ms >= 399, "the whole reply recorded")
        assert texts(events, "transcript.input") == ["what time is it"]
        assert texts(events, "transcript.output") == ["It is noon."]
        order = kinds(events)
        assert order.index("transcript.input") < order.index("response.created")
        assert order.index("response.created") < order.index("transcript.output")
        # The app's 24 kHz became the agent's 16 kHz on the wire: the file, then silence (the
        # streaming resampler keeps its last few ms until more audio comes).
        assert (300 + 800 - 40) * 32 <= len(server.input_audio) <= (300 + 800) * 32
        assert abs(channel.reply_ms - 400) <= 1
        written = read_wav(answer)
        assert written.sample_rate == 24000
        assert written.duration_ms == channel.reply_ms
        user = [i for i in session.history.items if getattr(i, "role", None) == "user"]
        assert [u.text for u in user] == ["what time is it"]  # type: ignore[union-attr]
        clean(server)


async def test_barge_in_drops_old_audio_keeps_the_reply_and_cuts_the_history() -> None:
    async with fake() as server:
        story = AudioReply("one two three four five six seven eight", duration_ms=4000, pace=0.02)
        server.script.on("story", story)
        server.script.default = AudioReply("Sure, stopping.", duration_ms=300, pace=0.02)
        server.script.hear("stop please")
        speaker = Recorder()
        async with session_for(server, speaker) as session:
            session.send_message("tell me a story")
            await until(session, "audio.output.delta", count=10)
            await speak(session, 300, 500)
            events = await until(session, "response.interrupted")
            # Audio of the cut answer still in flight (an older event id) must not be played.
            stale = base64.b64encode(tone(200, sample_rate=16000)).decode()
            stale_audio = {"audio_base_64": stale, "event_id": 1}
            await server.send_event({"type": "audio", "audio_event": stale_audio})
            events += await until(session, "transcript.output", count=2)
            await eventually(lambda: reply_sent(server, 2), "the reply sent")
            reply_item = speaker.item
            await eventually(
                lambda: len(speaker.audio.get(reply_item or "", b"")) >= 250 * BYTES_PER_MS,
                "the reply played",
            )
            history = list(session.history.items)
        assert speaker.interrupts == 1
        (interruption,) = [m for m in server.sent if m["type"] == "interruption"]
        assert interruption["interruption_event"]["event_id"] == 2
        (correction,) = [m for m in server.sent if m["type"] == "agent_response_correction"]
        cut = correction["agent_response_correction_event"]
        said = cut["corrected_agent_response"]
        assert said and said != cut["original_agent_response"]
        # Two items played: the story until the interruption, the reply (same id as the
        # interruption) in full; the stale chunk went to neither.
        story_item, reply = list(speaker.audio), speaker.audio[reply_item or ""]
        assert len(story_item) == 2 and story_item[1] == reply_item
        assert len(speaker.audio[story_item[0]]) == speaker.heard_at_interrupt
        assert 250 * BYTES_PER_MS <= len(reply) <= 300 * BYTES_PER_MS
        # The history keeps what was heard of the story, then the user's words, then the reply.
        spoken = [
            (getattr(i, "role", None), getattr(i, "text", None))
            for i in history
            if getattr(i, "role", None) in ("user", "assistant")
        ]
        assert spoken == [
            ("user", "tell me a story"),
            ("assistant", said),
            ("user", "stop please"),
            ("assistant", "Sure, stopping."),
        ]
        assert "speech.started" in kinds(events)
        clean(server)


async def test_a_client_tool_call_runs_the_agents_tool() -> None:
    async with fake() as server:
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
        (result,) = [m for m in server.received if m["type"] == "client_tool_result"]
        assert result["result"] == "sunny in Paris"
        assert result["is_error"] is False
        assert [e["role"] for e in server.conversation] == [
            "user",
            "tool_call",
            "tool_result",
            "agent",
        ]
        clean(server)


async def test_a_private_agent_through_a_signed_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with fake(private=True) as server:
        server.script.default = TextReply("Welcome back.")
        async with session_for(server, api_key="xi-test") as session:
            session.send_message("hi")
            events = await until(session, "transcript.output")
        assert texts(events, "transcript.output") == ["Welcome back."]
        assert server.signed_urls_issued == 1

        model = elevenlabs.realtime(AGENT_ID, api_key="xi-test", base_url=server.base_url)
        credential = await model.authenticate()
        assert isinstance(credential, UrlCredential)
        assert "conversation_signature=" in credential.url
        assert credential.expires_at is not None
        left = credential.expires_at - datetime.now(UTC)
        assert timedelta(minutes=14) < left <= timedelta(minutes=15)
        assert "conversation_signature" not in repr(credential)
        # a process without the key connects with the credential alone
        async with session_for(server, credential=credential) as session:
            session.send_message("hi again")
            await until(session, "transcript.output")
        assert server.connection_count == 2

        clean(server)


async def test_a_44k_agent_is_resampled_to_the_apps_24k() -> None:
    async with fake(agent=agent_config(agent_output_audio_format="pcm_44100")) as server:
        server.script.on("talk", AudioReply("A CD-quality voice.", duration_ms=500))
        server.script.default = AudioReply("Again.", duration_ms=300)
        speaker = Recorder()
        async with session_for(server, speaker) as session:
            session.send_message("talk")
            await until(session, "transcript.output")
            await eventually(lambda: reply_sent(server, 1), "the first reply sent")
            session.send_message("once more")  # the next turn ends the first answer
            await until(session, "response.done")
            await eventually(lambda: reply_sent(server, 2), "the second reply sent")
        wire = b"".join(
            base64.b64decode(m["audio_event"]["audio_base_64"])
            for m in server.sent
            if m["type"] == "audio" and m["audio_event"]["event_id"] == 1
        )
        assert len(wire) == 500 * 441 // 10 * 2  # 44.1 kHz PCM16 on the wire
        first = next(iter(speaker.audio.values()))
        assert abs(len(first) - 500 * BYTES_PER_MS) <= BYTES_PER_MS  # 24 kHz for the app
        clean(server)


async def test_pings_are_answered_while_audio_flows() -> None:
    async with fake(ping_interval=0.05, strict_pongs=True) as server:
        server.script.default = AudioReply("la " * 20, duration_ms=1500, pace=0.02)
        speaker = RealTimeSpeaker()
        async with session_for(server, speaker) as session:
            session.send_message("sing")
            await until(session, "transcript.output")
            await eventually(lambda: reply_sent(server, 1), "the song sent")
            await speak(session, 200, 300)  # audio up while pings keep coming
            await until(session, "transcript.input")
            assert session.status is TransportStatus.CONNECTED
        answered = [p for p in server.pongs if p.answered]
        assert len(answered) >= 5
        assert all(p.answered for p in server.pongs[:-1])
        pongs = [m for m in server.received if m.get("type") == "pong"]
        assert [m["event_id"] for m in pongs] == [p.event_id for p in answered]
        clean(server)


async def test_an_error_event_becomes_a_clear_session_error() -> None:
    async with fake() as server:
        async with session_for(server) as session:
            await until(session, "session.created")
            await server.send_error(1002, "llm_timeout", "LLM response took over 20 seconds.")
            events = await until(session, "session.error")
            events += await until(session, "status.changed")
            assert session.status is TransportStatus.DISCONNECTED
        (error, *_) = [e for e in events if e.kind == "session.error"]
        assert error.code == "llm_timeout"  # type: ignore[union-attr]
        assert "LLM response took over 20 seconds." in error.message  # type: ignore[union-attr]
        assert "1002" in error.message  # type: ignore[union-attr]
        clean(server)


async def test_a_private_agent_without_a_key_is_refused_clearly() -> None:
    async with fake(private=True) as server:
        with pytest.raises(HandshakeError) as refused:
            async with session_for(server):
                pass
        assert "403" in str(refused.value) and "private" in str(refused.value)
        assert server.connection_count == 0


async def test_an_override_the_agent_does_not_allow_is_a_clear_connect_error() -> None:
    async with fake(agent=agent_config(enabled_overrides=frozenset())) as server:
        with pytest.raises(ConfigurationError) as refused:
            async with session_for(server):
                pass
        message = str(refused.value)
        assert "agent.prompt.prompt" in message and "security settings" in message
        (error,) = [m for m in server.sent if m["type"] == "error"]
        assert error["error_event"]["error_type"] == "override_error"
        clean(server)


async def test_the_whole_reply_is_played_without_waiting_for_the_next_turn() -> None:
    async with fake() as server:
        server.script.default = AudioReply("That is all.", duration_ms=400)
        speaker = Recorder()
        async with session_for(server, speaker) as session:
            session.send_message("anything else?")
            await until(session, "transcript.output")
            await eventually(lambda: reply_sent(server, 1), "the reply sent")
            await eventually(
                lambda: sum(map(len, speaker.audio.values())) >= 400 * BYTES_PER_MS,
                "the whole reply played",
                within=1.0,
            )


async def test_a_telephony_agent_hears_mu_law_at_8k() -> None:
    async with fake(agent=agent_config(user_input_audio_format="ulaw_8000")) as server:
        server.script.hear("hello operator")
        server.script.default = TextReply("How can I help?")
        async with session_for(server) as session:
            await until(session, "session.created")
            await speak(session, 300, 500)
            events = await until(session, "transcript.output")
        # Encoded right, the tone decodes loud and the silence quiet (which ended the turn).
        assert texts(events, "transcript.input") == ["hello operator"]
        heard = server.input_audio  # PCM16 at 8 kHz: 16 bytes per ms
        assert 600 * 16 <= len(heard) <= 800 * 16
        assert rms(heard[50 * 16 : 250 * 16]) > 0.2
        assert rms(heard[400 * 16 : 600 * 16]) < 0.01
        clean(server)


async def test_a_dropped_link_is_reported_and_a_new_conversation_serves() -> None:
    async with fake() as server:
        server.script.default = TextReply("noted")
        model = elevenlabs.realtime(AGENT_ID, base_url=server.base_url)
        policy = ReconnectPolicy(initial_delay=0.05)
        async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
            session.send_message("remember this")
            await until(session, "transcript.output")
            await server.drop_connections()
            events = await until(session, "status.changed", count=2)
            statuses = [e.status for e in events if e.kind == "status.changed"]  # type: ignore[union-attr]
            assert statuses == [TransportStatus.RECONNECTING, TransportStatus.CONNECTED]
            session.send_message("and now?")
            events = await until(session, "transcript.output")
        assert texts(events, "transcript.output") == ["noted"]
        assert server.connection_count == 2
        second = server.conversations[1].received
        # The new conversation hears the old one as background context, not as new turns.
        assert [m["type"] for m in second] == [
            "conversation_initiation_client_data",
            "contextual_update",
            "contextual_update",
            "user_message",
        ]
        context = " ".join(e["text"] for e in server.conversation if e["role"] == "context")
        assert "remember this" in context and "noted" in context
        assert second[-1] == {"type": "user_message", "text": "and now?"}
        clean(server)
