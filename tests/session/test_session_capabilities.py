"""The session honours its model's capabilities: it never sends what the model cannot take, and
refuses live changes the model cannot make, naming the model and the field."""

from __future__ import annotations

import pytest

from tests.session.conftest import FakeChannel, MemoryModel, settle
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    ActivityStart,
    AudioFormat,
    AudioOutputDelta,
    ConfigurationError,
    ConnectOptions,
    ItemCreated,
    ItemTruncate,
    MessageItem,
    RealtimeCapabilities,
    ResponseCreated,
    SessionConfig,
    SessionError,
    SpeechStarted,
    TurnDetection,
    UnsupportedEventError,
    VoiceConfig,
)
from voicewire.providers.openai_protocol.dialect import OPENAI, XAI

MS = AudioFormat.pcm16(24000).bytes_per_second // 1000
AGENT = RealtimeAgent(id="a", name="A", instructions="Hi.", voice={"voice_id": "ara"})


class DeclaringModel(MemoryModel):
    """An in-memory model that declares the capabilities it is given."""

    def __init__(self, capabilities: RealtimeCapabilities, provider: str = "xai") -> None:
        super().__init__()
        self.capabilities = capabilities
        self.provider = provider  # type: ignore[misc]


def audio(item: str, ms: int, response: str = "resp_1") -> AudioOutputDelta:
    return AudioOutputDelta.from_bytes(response, item, b"\x01\x00" * (ms * MS // 2))


async def test_barge_in_on_xai_cuts_the_history_and_sends_no_truncate() -> None:
    model, channel = DeclaringModel(XAI.capabilities), FakeChannel()
    async with RealtimeSession(AGENT, model=model, channel=channel) as session:
        errors: list[SessionError] = []
        session.on("error", errors.append)
        connection = model.connection
        connection.push(
            ResponseCreated("resp_1"),
            ItemCreated(MessageItem("item_a", "assistant", ())),
            *(audio("item_a", 100) for _ in range(10)),
        )
        await settle()
        channel.heard_ms = 420
        connection.push(SpeechStarted("item_user", 1234))
        await settle()
        assert channel.interrupted == 1
        assert session.history.truncated_at == {"item_a": 420}
        assert connection.of("item.truncate") == []
        assert errors == []  # nothing refused, nothing reported: the cut is the session's own


async def test_the_same_barge_in_on_openai_truncates_at_the_model() -> None:
    model, channel = DeclaringModel(OPENAI.capabilities, "openai"), FakeChannel()
    async with RealtimeSession(AGENT, model=model, channel=channel):
        model.connection.push(ResponseCreated("resp_1"), *(audio("item_a", 100) for _ in range(5)))
        await settle()
        channel.heard_ms = 300
        model.connection.push(SpeechStarted("item_user", 900))
        await settle()
        (truncate,) = model.connection.of("item.truncate")
        assert truncate.audio_end_ms == 300


async def test_interrupt_without_cancel_stops_playback_only() -> None:
    model, channel = DeclaringModel(RealtimeCapabilities(response_cancel=False)), FakeChannel()
    async with RealtimeSession(AGENT, model=model, channel=channel) as session:
        model.connection.push(ResponseCreated("resp_1"), *(audio("item_a", 100) for _ in range(3)))
        await settle()
        channel.heard_ms = 150
        session.interrupt()
        assert model.connection.of("response.cancel") == []
        assert channel.interrupted == 1
        assert [e.kind for e in model.connection.of("item.truncate")] == ["item.truncate"]


async def test_sending_what_the_model_cannot_take_raises_and_sends_nothing() -> None:
    model = DeclaringModel(XAI.capabilities)
    async with RealtimeSession(AGENT, model=model) as session:
        before = len(model.connection.sent)
        with pytest.raises(UnsupportedEventError, match="xai model 'memory-1' cannot take"):
            session.send(ItemTruncate("item_a", 100))
        with pytest.raises(UnsupportedEventError, match=r"activity\.start"):
            session.send(ActivityStart())
        assert len(model.connection.sent) == before


async def test_what_the_model_cannot_take_is_refused_while_connecting_too() -> None:
    session = RealtimeSession(AGENT, model=DeclaringModel(XAI.capabilities))
    with pytest.raises(UnsupportedEventError):
        session.send(ItemTruncate("item_a", 100))  # not queued for a model that cannot take it


async def test_update_of_a_field_fixed_for_the_model_names_model_and_field() -> None:
    model = DeclaringModel(RealtimeCapabilities(live_instructions=False))
    async with RealtimeSession(AGENT, model=model) as session:
        before = session.config
        with pytest.raises(ConfigurationError) as refused:
            session.update(instructions="Be verbose.")
        assert "instructions" in str(refused.value)
        assert "xai model 'memory-1'" in str(refused.value)
        assert session.config is before
        assert model.connection.of("session.update") == []
        session.update(instructions="Hi.")  # the same value is no change
        session.update(voice=VoiceConfig("eve"))


async def test_openai_keeps_its_voice_once_it_has_spoken() -> None:
    model = DeclaringModel(OPENAI.capabilities, "openai")
    async with RealtimeSession(AGENT, model=model) as session:
        session.update(voice=VoiceConfig("cedar"))  # nothing said yet: allowed
        model.connection.push(ResponseCreated("resp_1"), audio("item_a", 40))
        await settle()
        with pytest.raises(ConfigurationError, match="voice: the openai model 'memory-1'"):
            session.update(voice=VoiceConfig("marin"))
        session.update(voice=VoiceConfig("cedar", speed=1.2))  # the speed may change
    assert [u.config.voice for u in model.connection.of("session.update")] == [
        VoiceConfig("cedar"),
        VoiceConfig("cedar", 1.2),
    ]


async def test_a_model_that_declares_nothing_is_taken_to_take_everything(
    model: MemoryModel,
) -> None:
    assert not hasattr(model, "capabilities")
    async with RealtimeSession(AGENT, model=model) as session:
        assert session.capabilities == RealtimeCapabilities()
        session.send(ItemTruncate("item_a", 100))
        session.send(ActivityStart())
    assert [e.kind for e in model.connection.sent[-2:]] == ["item.truncate", "activity.start"]


async def test_the_models_default_turn_detection_is_the_sessions_when_none_is_named() -> None:
    semantic = DeclaringModel(RealtimeCapabilities(default_turn_detection="semantic_vad"))
    async with RealtimeSession(AGENT, model=semantic) as session:
        assert session.turn_detection == TurnDetection("semantic_vad")
        assert session.config.turn_detection is None
    assert semantic.options is not None and semantic.options.session_config is not None
    assert semantic.options.session_config.turn_detection is None  # the model keeps its own
    chosen = TurnDetection("server_vad", silence_duration_ms=300)
    config = SessionConfig(turn_detection=chosen)
    model = DeclaringModel(RealtimeCapabilities(default_turn_detection="semantic_vad"))
    assert (
        RealtimeSession(
            AGENT, model=model, connect_options=ConnectOptions(session_config=config)
        ).turn_detection
        == chosen
    )


def test_a_model_that_states_no_default_turn_detection_gets_server_vad() -> None:
    model = DeclaringModel(RealtimeCapabilities())
    model.default_turn_detection = TurnDetection("semantic_vad")  # type: ignore[attr-defined]
    assert RealtimeCapabilities().default_turn_detection is None
    # only the capabilities say: an attribute of the model is not read
    assert RealtimeSession(AGENT, model=model).turn_detection == TurnDetection()
