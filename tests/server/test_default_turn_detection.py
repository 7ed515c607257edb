"""The turn detection a client is shown when nobody chose one: the model's own default (the local
model's Smart Turn ``semantic_vad``), ``server_vad`` for a model that declares none; a client
that chooses one gets it. What the session keeps (and stores for a resume) stays "not chosen"."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voicewire import RealtimeAgent
from voicewire.protocol import RealtimeCapabilities, TurnDetection
from voicewire.server import create_app
from voicewire.session import RealtimeSession
from voicewire.testing import ScriptedModel

from .conftest import raw_client, serve


class SemanticByDefault(ScriptedModel):
    """A model whose sessions end turns semantically unless told otherwise (as the local one
    does with Smart Turn installed)."""

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return replace(super().capabilities, default_turn_detection="semantic_vad")


def shown_turn(frame: dict[str, Any]) -> Any:
    return frame["session"]["audio"]["input"]["turn_detection"]


async def test_no_choice_shows_the_models_default_and_a_choice_shows_the_choice(
    agent: RealtimeAgent,
) -> None:
    app = create_app(agent, SemanticByDefault())
    async with serve(app) as served, raw_client(served) as client:
        [created] = client.frames  # raw_client waits for it
        assert shown_turn(created)["type"] == "semantic_vad"
        await client.send({"type": "session.update", "session": {"type": "realtime"}})
        [*_, updated] = await client.until("session.updated")
        assert shown_turn(updated)["type"] == "semantic_vad"
        chosen = {"type": "server_vad", "silence_duration_ms": 300}
        session = {"type": "realtime", "audio": {"input": {"turn_detection": chosen}}}
        await client.send({"type": "session.update", "session": session})
        [*_, updated] = await client.until("session.updated")
        assert shown_turn(updated)["type"] == "server_vad"
        assert shown_turn(updated)["silence_duration_ms"] == 300


async def test_a_model_that_declares_no_default_still_shows_server_vad(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model)) as served, raw_client(served) as client:
        [created] = client.frames
    assert shown_turn(created)["type"] == "server_vad"


def test_the_session_uses_the_default_but_keeps_none_in_its_config(
    agent: RealtimeAgent,
) -> None:
    session = RealtimeSession(agent, model=SemanticByDefault())
    assert session.turn_detection.mode == "semantic_vad"
    assert session.config.turn_detection is None  # so no provider is sent one
    plain = RealtimeSession(agent, model=ScriptedModel())
    assert plain.turn_detection == TurnDetection()
