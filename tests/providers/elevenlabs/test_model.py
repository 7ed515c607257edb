"""The ElevenLabs model: its factory, honest capabilities (what a session may not ask of it
raises clearly), the API key from the environment, and the opening exchange's edges (a ping
before the metadata, an abort, a server that never greets)."""

from __future__ import annotations

import asyncio
import json

import pytest

from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    ConfigurationError,
    ConnectAbortedError,
    ConnectOptions,
    SessionUpdate,
    TurnDetection,
    UnsupportedEventError,
    VoiceConfig,
)
from voicewire.protocol.capabilities import ANY_AUDIO
from voicewire.providers import elevenlabs
from voicewire.session import ReconnectPolicy
from voicewire.testing import FakeElevenLabsServer

from .raw_server import Peer, raw_agent
from .support import metadata, ping

WITHIN_S = 10.0


def test_the_factory_names_the_agent_and_keeps_the_key_out_of_its_repr() -> None:
    model = elevenlabs.realtime(
        "agent_x", api_key="xi-SECRET", base_url="wss://api.eu.residency.elevenlabs.io/"
    )
    assert (model.provider, model.model_id) == ("elevenlabs", "agent_x")
    assert (
        model.public_url
        == "wss://api.eu.residency.elevenlabs.io/v1/convai/conversation?agent_id=agent_x"
    )
    assert model.rest_base_url == "https://api.eu.residency.elevenlabs.io"
    assert "xi-SECRET" not in repr(model)
    with pytest.raises(ConfigurationError, match="agent's id"):
        elevenlabs.realtime("")


def test_capabilities_say_what_an_agent_cannot_take() -> None:
    caps = elevenlabs.realtime("agent_x").capabilities
    assert caps.unsupported_client_events() == {
        "item.truncate",
        "item.delete",
        "response.create",
        "response.cancel",
        "audio.input.commit",
        "audio.input.clear",
        "activity.start",
        "activity.end",
    }
    assert not caps.manual_turns and caps.server_vad and caps.semantic_vad
    assert caps.input_transcription and not caps.session_resumption
    assert (caps.live_instructions, caps.live_tools, caps.live_voice) == (False, False, "never")
    assert caps.input_audio == caps.output_audio == ANY_AUDIO


async def test_a_live_change_is_refused_clearly_and_the_session_goes_on() -> None:
    agent = RealtimeAgent(id="a", name="A", instructions="")
    async with FakeElevenLabsServer("agent_x", "xi-test") as server:
        model = elevenlabs.realtime("agent_x", base_url=server.base_url)
        session = RealtimeSession(agent, model=model, reconnect=ReconnectPolicy(attempts=0))
        async with session:
            for change in (
                {"instructions": "Be rude."},
                {"voice": VoiceConfig("other_voice")},
                {"turn_detection": TurnDetection(silence_duration_ms=900)},
            ):
                with pytest.raises(ConfigurationError) as raised:
                    session.update(**change)  # type: ignore[arg-type]
                field = next(iter(change))
                assert f"update(): {field}: the elevenlabs model 'agent_x'" in raised.value.message
            with pytest.raises(
                UnsupportedEventError, match=r"elevenlabs cannot take session\.update"
            ):
                session.send(SessionUpdate(session.config))
            session.send_message("still here")
            await server.wait_for_received("user_message")
    assert server.violations == []


async def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "xi-from-env")
    async with FakeElevenLabsServer("agent_x", "xi-from-env", private=True) as server:
        connection = await elevenlabs.realtime("agent_x", base_url=server.base_url).connect()
        await connection.close()
    assert server.signed_urls_issued == 1 and server.connection_count == 1


async def test_a_ping_before_the_metadata_is_answered_during_the_opening() -> None:
    async def agent(peer: Peer) -> None:
        await peer.recv()
        await peer.send(ping(1))
        await peer.until("pong")
        await peer.send(metadata("conv_late"))
        await peer.socket.wait_closed()

    async with raw_agent(agent) as (base_url, peers):
        connection = await elevenlabs.realtime("agent_x", base_url=base_url).connect()
        await connection.close()
    assert connection.session_id == "conv_late"
    assert peers[0].received[1] == {"type": "pong", "event_id": 1}


async def test_an_abort_stops_a_connect_waiting_for_the_metadata() -> None:
    async def agent(peer: Peer) -> None:
        await peer.recv()
        await peer.socket.wait_closed()  # never greets

    abort = asyncio.Event()
    async with raw_agent(agent) as (base_url, _):
        model = elevenlabs.realtime("agent_x", base_url=base_url)
        connecting = asyncio.ensure_future(model.connect(ConnectOptions(abort=abort)))
        await asyncio.sleep(0)
        abort.set()
        with pytest.raises(ConnectAbortedError, match="aborted"):
            async with asyncio.timeout(WITHIN_S):
                await connecting


async def test_a_malformed_greeting_is_a_handshake_error() -> None:
    from voicewire.protocol import HandshakeError

    async def agent(peer: Peer) -> None:
        await peer.recv()
        await peer.socket.send(json.dumps({"type": "conversation_initiation_metadata"}))
        await peer.socket.wait_closed()

    async with raw_agent(agent) as (base_url, _):
        with pytest.raises(HandshakeError, match="conversation_initiation_metadata_event"):
            await elevenlabs.realtime("agent_x", base_url=base_url).connect()


async def test_provider_options_reach_the_initiation_without_a_session_config() -> None:
    async with FakeElevenLabsServer("agent_x", "xi-test") as server:
        options = ConnectOptions(provider_options={"dynamic_variables": {"user_name": "Ada"}})
        connection = await elevenlabs.realtime("agent_x", base_url=server.base_url).connect(options)
        await connection.close()
    assert server.received[0]["dynamic_variables"] == {"user_name": "Ada"}
    assert server.violations == []


async def test_a_server_that_never_greets_is_a_handshake_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from voicewire.protocol import HandshakeError
    from voicewire.providers.elevenlabs import model as model_module

    monkeypatch.setattr(model_module, "GREETING_TIMEOUT_S", 0.2)

    async def agent(peer: Peer) -> None:
        await peer.recv()
        await peer.socket.wait_closed()

    async with raw_agent(agent) as (base_url, _):
        with pytest.raises(
            HandshakeError, match=r"no conversation_initiation_metadata within 0\.2 s"
        ):
            await elevenlabs.realtime("agent_x", base_url=base_url).connect()
