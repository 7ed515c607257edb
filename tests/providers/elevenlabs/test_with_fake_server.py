"""The ElevenLabs provider against the fake ElevenLabs server (written from the platform's
AsyncAPI, independently of the codec): every client message the codec writes passes the fake's
strict validation, overrides are checked the platform's way, and a session survives a dropped
link by telling the new conversation its history as context."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voicewire import RealtimeAgent, RealtimeSession, tool
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    ConfigurationError,
    ConnectOptions,
    ItemCreate,
    MessageItem,
    ServerEvent,
    SessionConfig,
    SessionError,
    TextPart,
    ToolResult,
    TransportStatus,
    VoiceConfig,
    user_text,
)
from voicewire.providers import elevenlabs
from voicewire.providers.codec_connection import CodecConnection
from voicewire.session import ReconnectPolicy
from voicewire.testing import (
    FakeElevenLabsServer,
    TextReply,
    ToolCallReply,
    tone,
)
from voicewire.testing.fake_elevenlabs import AgentConfig

pytestmark = pytest.mark.timeout(30)

WITHIN_S = 10.0
ALL_OVERRIDES = frozenset(
    {"agent.prompt.prompt", "agent.first_message", "tts.voice_id", "tts.speed", "agent.language"}
)


async def until(connection: CodecConnection, kind: str, count: int = 1) -> list[ServerEvent]:
    seen: list[ServerEvent] = []
    async with asyncio.timeout(WITHIN_S):
        async for event in connection:
            seen.append(event)
            if event.kind == kind:
                count -= 1
                if count == 0:
                    return seen
    raise AssertionError(f"the connection ended before {kind}: {[e.kind for e in seen]}")


def clean(server: FakeElevenLabsServer) -> None:
    assert server.violations == []
    assert server.sent_violations == []


async def test_every_client_message_the_codec_writes_passes_the_fakes_strict_validation() -> None:
    agent = AgentConfig(
        agent_output_audio_format="pcm_44100",
        user_input_audio_format="ulaw_8000",
        client_tools=frozenset({"get_weather"}),
        enabled_overrides=ALL_OVERRIDES,
    )
    async with FakeElevenLabsServer("agent_x", "xi-test", agent=agent) as server:
        server.script.on(
            "weather",
            ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("Sunny.")),
        )
        config = SessionConfig(
            instructions="Be brief.",
            voice=VoiceConfig("voice_b", speed=1.1),
            input_audio_format=AudioFormat.pcm16(24000),
            provider_options={
                "first_message": "",
                "language": "no",
                "dynamic_variables": {"user_name": "Ada"},
                "user_id": "u_1",
            },
        )
        model = elevenlabs.realtime("agent_x", base_url=server.base_url)
        connection = await model.connect(ConnectOptions(session_config=config))
        try:
            spoken = tone(200, amplitude=0.3)  # 24 kHz PCM16
            for start in range(0, len(spoken), 960):  # in 20 ms chunks
                connection.send(AudioInputAppend(spoken[start : start + 960]))
            system = MessageItem("item_ctx", "system", (TextPart("The user is a member."),))
            connection.send(ItemCreate(system))
            connection.send(ItemCreate(user_text("What's the weather?", "item_q")))
            [call] = [e for e in await until(connection, "tool.call") if e.kind == "tool.call"]
            connection.send(ToolResult(call.call_id, "sunny", "get_weather"))  # type: ignore[union-attr]
            await until(connection, "transcript.output")
            await server.ping()
            await server.wait_for_received("pong")
        finally:
            await connection.close()
    kinds = {m.get("type", "user_audio_chunk") for m in server.received}
    assert kinds >= {
        "conversation_initiation_client_data",
        "user_audio_chunk",
        "contextual_update",
        "user_message",
        "client_tool_result",
        "pong",
    }
    conversation = server.conversations[0]
    assert conversation.agent.language == "no"  # type: ignore[attr-defined]
    # 200 ms reached the agent as 8 kHz µ-law (the fake decodes it to PCM16), less the
    # resampler's last few ms, which wait for more audio.
    assert 1400 * 2 <= len(server.input_audio) <= 1600 * 2
    clean(server)


async def test_an_override_the_agent_does_not_allow_fails_connect_clearly() -> None:
    async with FakeElevenLabsServer("agent_x", "xi-test") as server:  # no overrides enabled
        model = elevenlabs.realtime("agent_x", base_url=server.base_url)
        options = ConnectOptions(session_config=SessionConfig(instructions="Be brief."))
        with pytest.raises(ConfigurationError) as raised:
            await model.connect(options)
        # The same agent's own prompt is kept with overrides off.
        options = ConnectOptions(
            session_config=SessionConfig(instructions="Be brief."),
            provider_options={"overrides": False},
        )
        connection = await model.connect(options)
        await connection.close()
    words = raised.value.message
    assert "override_error" in words and "agent.prompt.prompt" in words
    clean(server)


async def test_a_private_agent_needs_the_key_and_gets_a_signed_url() -> None:
    async with FakeElevenLabsServer("agent_x", "xi-test", private=True) as server:
        server.script.default = TextReply("Hello.")
        keyless = elevenlabs.realtime("agent_x", base_url=server.base_url, api_key=None)
        with pytest.raises(Exception, match="HTTP 403"):
            await keyless.connect(
                ConnectOptions(),
            )
        model = elevenlabs.realtime("agent_x", api_key="xi-test", base_url=server.base_url)
        connection = await model.connect()
        connection.send(ItemCreate(user_text("Hi", "item_1")))
        said = await until(connection, "transcript.output")
        await connection.close()
    assert [e.text for e in said if e.kind == "transcript.output"] == ["Hello."]  # type: ignore[union-attr]
    assert server.signed_urls_issued == 1
    clean(server)


@pytest.mark.parametrize(
    ("code", "error_type", "final"),
    [
        (1008, "missing_dynamic_variable", True),  # a new conversation would miss it too
        (1000, None, True),  # the agent ended the call
        (1002, "llm_timeout", False),  # worth a new conversation
        (1011, None, False),
    ],
)
async def test_a_close_is_a_clear_error_and_reconnects_only_when_worth_it(
    code: int, error_type: str | None, final: bool
) -> None:
    agent = RealtimeAgent(id="a", name="A", instructions="")
    async with FakeElevenLabsServer("agent_x", "xi-test") as server:
        model = elevenlabs.realtime("agent_x", base_url=server.base_url)
        policy = ReconnectPolicy(attempts=2, initial_delay=0.05)
        session = RealtimeSession(agent, model=model, reconnect=policy)
        errors: list[SessionError] = []
        settled = asyncio.Event()

        def on_status(event: Any) -> None:
            settles = (TransportStatus.CONNECTED, TransportStatus.DISCONNECTED)
            if event.status in settles and server.connection_count == (1 if final else 2):
                settled.set()

        session.on("error", lambda e: errors.append(e))  # type: ignore[arg-type]
        async with session:
            session.on("status", on_status)
            if error_type is None:
                await server.close_with(code, "bye")
            else:
                await server.send_error(code, error_type, "it went wrong")
            async with asyncio.timeout(WITHIN_S):
                await settled.wait()
            status = session.status
    expected = TransportStatus.DISCONNECTED if final else TransportStatus.CONNECTED
    assert status is expected and server.connection_count == (1 if final else 2)
    if error_type is not None:
        assert (errors[0].code, errors[0].fatal) == (error_type, False)
        assert "it went wrong" in errors[0].message
    if final:
        [last] = [e for e in errors if e.fatal]
        assert last.code == (error_type or "conversation_ended")
        assert f"code {code}" in last.message
    else:
        assert not any(e.fatal for e in errors)  # held: the link came back
    clean(server)


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


async def test_a_dropped_link_reconnects_and_tells_the_new_conversation_its_history() -> None:
    agent = RealtimeAgent(id="a", name="A", instructions="", tools=[get_weather])
    async with FakeElevenLabsServer(
        "agent_x", "xi-test", agent=AgentConfig(client_tools=frozenset({"get_weather"}))
    ) as server:
        server.script.on("hello", TextReply("Hi! How can I help?"))
        model = elevenlabs.realtime("agent_x", base_url=server.base_url)
        session = RealtimeSession(
            agent, model=model, reconnect=ReconnectPolicy(attempts=3, initial_delay=0.05)
        )
        async with session:
            assert session.capabilities.response_create is False
            session.send_message("hello")
            async with asyncio.timeout(WITHIN_S):
                async for event in session:
                    if event.kind == "transcript.output":
                        break
            replayed: list[str] = []
            both = asyncio.Event()

            def on_item(event: Any) -> None:  # the acknowledgements on the new link
                if session.reconnects:
                    replayed.append(event.item.id)
                    if len(replayed) == 2:
                        both.set()

            session.on("item.created", on_item)
            await server.drop_connections()
            async with asyncio.timeout(WITHIN_S):
                await both.wait()
            assert session.status is TransportStatus.CONNECTED
            assert len(session._unacked) == 0  # every replayed item acknowledged
            assert replayed == [i.id for i in session.history.items]  # under the ids it had
        first, second = server.conversations[:2]
    assert [m["text"] for m in first.received if m.get("type") == "user_message"] == ["hello"]
    assert [m.get("type") for m in second.received][1:] == ["contextual_update"] * 2
    assert [m["text"] for m in second.received[1:]] == [
        "Earlier in this conversation the user said: hello",
        "Earlier in this conversation you (the agent) said: Hi! How can I help?",
    ]
    assert session.reconnects == 1
    clean(server)
