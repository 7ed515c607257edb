from __future__ import annotations

import asyncio
import json

import pytest

from tests.session.conftest import FakeChannel, MemoryModel, settle
from voicewire import RealtimeAgent, RealtimeSession, SessionConfig, TurnDetection, tool
from voicewire.protocol import (
    AudioFormat,
    AudioOutputDelta,
    AudioOutputDone,
    ConfigurationError,
    ConnectionClosedError,
    ConnectOptions,
    ItemCreated,
    MessageItem,
    ResponseCreated,
    ResponseDone,
    SessionCreated,
    SpeechStarted,
    TextPart,
    ToolCall,
    TranscriptInput,
    TranscriptOutput,
    TransportStatus,
)

FMT = AudioFormat.pcm16(24000)
MS = FMT.bytes_per_second // 1000  # bytes per millisecond


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@tool(timeout=0.05)
async def hangs() -> str:
    """Never answers."""
    await asyncio.sleep(60)
    return "never"


@tool
def explodes(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


@tool(timeout=10)
async def slow(ms: int) -> str:
    """Takes a while."""
    await asyncio.sleep(ms / 1000)
    return "done"


def make_agent() -> RealtimeAgent:
    return RealtimeAgent(
        id="jarvis",
        name="Jarvis",
        instructions="Be concise.",
        tools=[get_weather, hangs, explodes, slow],
        voice={"voice_id": "marin"},
    )


def audio_delta(item: str, ms: int, response: str = "resp_1") -> AudioOutputDelta:
    return AudioOutputDelta.from_bytes(response, item, b"\x01\x00" * (ms * MS // 2))


async def test_config_from_agent_reaches_the_model(model: MemoryModel) -> None:
    options = ConnectOptions(session_config=SessionConfig(turn_detection=TurnDetection("manual")))
    async with RealtimeSession(make_agent(), model=model, connect_options=options) as session:
        assert session.status is TransportStatus.CONNECTED
    assert model.options is not None and model.options.session_config is not None
    config = model.options.session_config
    assert config.instructions == "Be concise."
    assert [t.name for t in config.tools] == ["get_weather", "hangs", "explodes", "slow"]
    assert config.voice is not None and config.voice.voice_id == "marin"
    assert config.turn_detection == TurnDetection("manual")


async def test_instructions_callable_sees_context(model: MemoryModel) -> None:
    agent = RealtimeAgent(id="a", name="A", instructions=lambda ctx: f"Talk to {ctx.data['user']}.")
    async with RealtimeSession(agent, model=model, context={"user": "Ada"}):
        pass
    assert model.options and model.options.session_config
    assert model.options.session_config.instructions == "Talk to Ada."


def test_a_session_needs_a_model() -> None:
    with pytest.raises(ConfigurationError, match="no model"):
        RealtimeSession(make_agent())


async def test_what_is_said_before_connect_is_queued_not_lost(model: MemoryModel) -> None:
    session = RealtimeSession(make_agent(), model=model)
    session.send_message("Hello there")
    session.send_audio(b"\x00\x01" * 10)
    await session.connect()
    assert model.connection.kinds() == ["item.create", "response.create", "audio.input.append"]
    item = model.connection.sent[0].item
    assert isinstance(item, MessageItem) and item.text == "Hello there"
    await session.close()
    with pytest.raises(ConnectionClosedError):
        session.send_message("too late")


async def test_status_sequence_and_events(model: MemoryModel) -> None:
    session = RealtimeSession(make_agent(), model=model)
    statuses: list[str] = []
    session.on("status", lambda e: statuses.append(e.status))
    async with session:
        model.connection.push(SessionCreated("sess_1"))
        await settle()
        kinds = []
        async for event in session:
            kinds.append(event.kind)
            if event.kind == "session.created":
                break
    assert statuses == ["connecting", "connected", "closed"]
    # the iterator attached after connect still saw what happened before it
    assert kinds == ["status.changed", "status.changed", "session.created"]


async def test_mute_gates_audio_from_channel_and_api(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        channel.speak(b"\x10\x00" * 160)
        session.mute()
        assert session.muted
        channel.speak(b"\x20\x00" * 160)
        session.send_audio(b"\x30\x00" * 160)
        session.unmute()
        channel.speak(b"\x40\x00" * 160)
    appended = model.connection.of("audio.input.append")
    assert [a.audio[:1] for a in appended] == [b"\x10", b"\x40"]
    assert session.audio_dropped_while_muted == 640
    assert channel.closed


async def test_manual_commit_asks_for_a_response(model: MemoryModel) -> None:
    options = ConnectOptions(session_config=SessionConfig(turn_detection=TurnDetection("manual")))
    async with RealtimeSession(make_agent(), model=model, connect_options=options) as session:
        session.commit()
    assert model.connection.kinds() == ["audio.input.commit", "response.create"]


async def test_tool_result_then_one_continue_after_the_response_ends(model: MemoryModel) -> None:
    async with RealtimeSession(make_agent(), model=model) as session:
        outputs = []
        session.on("tool.output", outputs.append)
        conn = model.connection
        conn.push(
            ResponseCreated("resp_1"),
            ToolCall("call_1", "get_weather", '{"city": "Paris"}', "item_1", "resp_1"),
            ToolCall("call_2", "get_weather", '{"city": "Oslo"}', "item_2", "resp_1"),
        )
        await settle()
        results = conn.of("tool.result")
        assert [(r.call_id, r.output) for r in results] == [
            ("call_1", "sunny in Paris"),
            ("call_2", "sunny in Oslo"),
        ]
        # the response is still active: asking to continue now would be rejected
        assert conn.of("response.create") == []
        conn.push(ResponseDone("resp_1"))
        await settle()
        assert conn.kinds()[-1] == "response.create"
        assert len(conn.of("response.create")) == 1
        assert [o.output for o in outputs] == ["sunny in Paris", "sunny in Oslo"]


@pytest.mark.parametrize(
    ("name", "arguments", "code", "needle"),
    [
        ("no_such_tool", "{}", "unknown_tool", "no_such_tool"),
        ("get_weather", "{not json", "tool_arguments_invalid", "get_weather"),
        ("get_weather", '{"town": "Paris"}', "tool_arguments_invalid", "city"),
        ("explodes", '{"reason": "kaboom"}', "tool_execution_failed", "kaboom"),
        ("hangs", "{}", "tool_timeout", "hangs"),
    ],
)
async def test_tool_failures_answer_the_model_and_report_an_error(
    model: MemoryModel, name: str, arguments: str, code: str, needle: str
) -> None:
    async with RealtimeSession(make_agent(), model=model) as session:
        errors = []
        session.on("error", errors.append)
        conn = model.connection
        conn.push(
            ResponseCreated("r"), ToolCall("c", name, arguments, None, "r"), ResponseDone("r")
        )
        for _ in range(50):
            await asyncio.sleep(0.01)
            if conn.of("response.create"):
                break
        (result,) = conn.of("tool.result")
        assert result.is_error and needle in json.loads(result.output)["error"]
        assert [e.code for e in errors] == [code]
        assert needle in errors[0].message
        # the model is not left waiting
        assert conn.kinds()[-1] == "response.create"
        # and the session keeps working
        session.send_message("still there?")
        assert conn.kinds()[-2:] == ["item.create", "response.create"]


async def test_interrupt_cancels_running_tools_without_continuing(model: MemoryModel) -> None:
    async with RealtimeSession(make_agent(), model=model) as session:
        cancelled = []
        session.on("tool.cancelled", cancelled.append)
        conn = model.connection
        conn.push(ResponseCreated("r"), ToolCall("c", "slow", '{"ms": 5000}', None, "r"))
        await settle()
        session.interrupt()
        conn.push(ResponseDone("r", status="cancelled"))
        await settle()
        assert [c.call_id for c in cancelled] == ["c"]
        (result,) = conn.of("tool.result")
        assert result.is_error and "cancelled" in result.output
        assert conn.of("response.create") == []
        assert conn.of("response.cancel")[0].response_id == "r"


async def test_close_cancels_running_tools(model: MemoryModel) -> None:
    session = RealtimeSession(make_agent(), model=model)
    await session.connect()
    model.connection.push(ResponseCreated("r"), ToolCall("c", "slow", '{"ms": 5000}', None, "r"))
    await settle()
    assert session._tools.running == 1
    await asyncio.wait_for(session.close(), timeout=2)
    assert session._tools.running == 0
    assert session.status is TransportStatus.CLOSED


async def test_barge_in_truncates_at_the_played_position(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        interruptions = []
        session.on("interrupted", interruptions.append)
        conn = model.connection
        conn.push(ResponseCreated("resp_1"), *(audio_delta("item_a", 100) for _ in range(10)))
        await settle()
        assert len(channel.played) == 10
        channel.heard_ms = 420
        conn.push(SpeechStarted("item_user", 1234))
        await settle()
        (truncate,) = conn.of("item.truncate")
        assert (truncate.item_id, truncate.audio_end_ms) == ("item_a", 420)
        assert channel.interrupted == 1
        assert interruptions[0].audio_end_ms == 420 and interruptions[0].item_id == "item_a"
        assert session.history.truncated_at == {"item_a": 420}


async def test_truncation_is_clamped_to_the_audio_received(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        conn = model.connection
        conn.push(ResponseCreated("resp_1"), audio_delta("item_a", 300))
        await settle()
        channel.heard_ms = 9_999  # a channel that over-reports
        session.interrupt()
        (truncate,) = conn.of("item.truncate")
        assert truncate.audio_end_ms == 300


async def test_no_truncate_before_the_first_audio_frame(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        interruptions = []
        session.on("response.interrupted", interruptions.append)
        conn = model.connection
        conn.push(ResponseCreated("resp_1"), SpeechStarted("item_user"))
        await settle()
        assert conn.of("item.truncate") == []
        assert len(interruptions) == 1 and interruptions[0].audio_end_ms is None


async def test_speech_after_the_reply_was_fully_heard_does_not_interrupt(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        interruptions = []
        session.on("interrupted", interruptions.append)
        conn = model.connection
        conn.push(ResponseCreated("r"), audio_delta("item_a", 200), ResponseDone("r"))
        await settle()
        channel.heard_ms = 200
        conn.push(SpeechStarted("item_user"))
        await settle()
        assert conn.of("item.truncate") == [] and interruptions == [] and channel.interrupted == 0


async def test_without_a_channel_the_app_reports_playback(model: MemoryModel) -> None:
    async with RealtimeSession(make_agent(), model=model) as session:
        conn = model.connection
        conn.push(ResponseCreated("r"), audio_delta("item_a", 500))
        await settle()
        session.report_playback("item_a", 120)
        session.interrupt()
        assert conn.of("item.truncate")[0].audio_end_ms == 120


async def test_invalid_base64_audio_is_reported_and_the_session_goes_on(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        errors = []
        session.on("error", errors.append)
        conn = model.connection
        conn.push(AudioOutputDelta("r", "item_a", "@@not base64@@"), audio_delta("item_a", 20))
        await settle()
        assert errors and "base64" in errors[0].message
        assert len(channel.played) == 1  # the good frame after the bad one still plays


async def test_history_follows_the_conversation(model: MemoryModel) -> None:
    async with RealtimeSession(make_agent(), model=model) as session:
        conn = model.connection
        conn.push(
            ItemCreated(MessageItem("u1", "user", ())),
            TranscriptInput("u1", "what's the weather"),
            ItemCreated(MessageItem("a1", "assistant", ()), previous_item_id="u1"),
            TranscriptOutput("r", "a1", "Sunny."),
            ItemCreated(MessageItem("u0", "user", (TextPart("first"),)), previous_item_id=None),
        )
        await settle()
        texts = [(i.id, i.text) for i in session.history.items if isinstance(i, MessageItem)]
        assert texts == [("u1", "what's the weather"), ("a1", "Sunny."), ("u0", "first")]


async def test_update_changes_the_live_session(model: MemoryModel) -> None:
    async with RealtimeSession(make_agent(), model=model) as session:
        session.update(instructions="Be verbose.", turn_detection=TurnDetection("manual"))
        (update,) = model.connection.of("session.update")
        assert update.config.instructions == "Be verbose."
        assert update.config.turn_detection == TurnDetection("manual")
        assert update.config.tools == model.options.session_config.tools  # type: ignore[union-attr]
        session.commit()  # manual now: commit asks for a response
        assert model.connection.kinds()[-2:] == ["audio.input.commit", "response.create"]
        with pytest.raises(ConfigurationError):
            session.update(no_such_field=1)


async def test_the_channel_is_told_when_an_item_is_complete(
    model: MemoryModel, channel: FakeChannel
) -> None:
    async with RealtimeSession(make_agent(), model=model, channel=channel):
        model.connection.push(audio_delta("item_a", 40), AudioOutputDone("resp_1", "item_a"))
        await settle()
    assert channel.ended == ["item_a"]


async def test_update_after_close_changes_nothing(model: MemoryModel) -> None:
    session = RealtimeSession(make_agent(), model=model)
    await session.connect()
    await session.close()
    before = session.config
    with pytest.raises(ConnectionClosedError):
        session.update(instructions="Too late.", output_audio_format=AudioFormat.pcmu())
    assert session.config is before and session.output_format == FMT


async def test_send_passes_any_client_event_through(model: MemoryModel) -> None:
    from voicewire.protocol import ItemDelete

    async with RealtimeSession(make_agent(), model=model) as session:
        session.send(ItemDelete("item_9"))
    assert model.connection.of("item.delete")[0].item_id == "item_9"


async def test_without_auto_truncate_barge_in_leaves_truncation_to_the_client(
    model: MemoryModel,
) -> None:
    session = RealtimeSession(make_agent(), model=model, auto_truncate=False)
    async with session:
        interruptions = []
        session.on("interrupted", interruptions.append)
        model.connection.push(ResponseCreated("r"), audio_delta("item_a", 300))
        model.connection.push(SpeechStarted("u"))
        await settle()
    assert model.connection.of("item.truncate") == []
    assert len(interruptions) == 1


async def test_a_provider_reported_interruption_is_reported_once(
    model: MemoryModel, channel: FakeChannel
) -> None:
    from voicewire.protocol import ResponseInterrupted

    async with RealtimeSession(make_agent(), model=model, channel=channel) as session:
        interruptions = []
        session.on("interrupted", interruptions.append)
        conn = model.connection
        conn.push(ResponseCreated("r1"), audio_delta("item_a", 300))
        await settle()
        channel.heard_ms = 100
        conn.push(SpeechStarted("u1"), ResponseInterrupted("r1", "item_a", 100))
        await settle()
        assert len(interruptions) == 1 and channel.interrupted == 1
        # a provider that reports an interruption the session did not see: cut once
        conn.push(ResponseCreated("r2"), audio_delta("item_b", 300))
        await settle()
        conn.push(ResponseInterrupted("r2", "item_b", 50))
        await settle()
        assert [i.response_id for i in interruptions] == ["r1", "r2"]
        assert channel.interrupted == 2
