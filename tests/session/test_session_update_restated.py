"""``update()`` that only restates what the model does sends nothing, even to a model whose
connection takes no ``session.update`` at all (an ElevenLabs agent)."""

from __future__ import annotations

import pytest

from tests.session.conftest import MemoryModel, settle
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    ConfigurationError,
    ConnectOptions,
    SessionConfig,
    TranscriptionConfig,
)
from voicewire.providers.elevenlabs import CAPABILITIES

AGENT = RealtimeAgent(id="a", name="A", instructions="Hi.")


class AgentLikeModel(MemoryModel):
    capabilities = CAPABILITIES


async def test_a_restating_update_sends_nothing_and_a_real_change_is_refused() -> None:
    model = AgentLikeModel()
    config = SessionConfig(transcription=TranscriptionConfig(language="en"))
    options = ConnectOptions(session_config=config)
    async with RealtimeSession(AGENT, model=model, connect_options=options) as session:
        before = session.config
        session.update(
            modalities=["audio"], transcription=TranscriptionConfig(model="gpt-4o-transcribe")
        )
        await settle()
        assert model.connection.of("session.update") == []
        assert session.config == before
        with pytest.raises(ConfigurationError, match=r"modalities: .* from audio to text"):
            session.update(modalities=["text"])
        assert model.connection.of("session.update") == []
