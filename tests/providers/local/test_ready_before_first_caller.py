"""``voicewire serve`` / ``demo`` on the local model load its models before they take the first
connection (issue 13): the first session's connect loads nothing."""

from __future__ import annotations

import pytest

from tests.cli.support import voicewire_serve
from tests.server.conftest import raw_client, serve
from voicewire.cli import build_app
from voicewire.cli.token_options import TokenOptions
from voicewire.providers.local import LocalRealtimeModel, smart_turn

from .conftest import needs_models

pytestmark = [needs_models, pytest.mark.timeout(180)]

LABELS = (
    "voice activity detection",
    "speech to text",
    "language model",
    "text to speech",
    "semantic end of turn (smart-turn",
)


async def test_the_served_app_has_its_models_loaded_before_the_first_session(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert smart_turn.available(), "Smart Turn is part of the local extra: make local-deps"
    fresh = smart_turn.SmartTurnModel()  # not loaded by an earlier test of this process
    monkeypatch.setattr(smart_turn, "_SHARED", fresh)
    app = build_app(None, "local", None, (), TokenOptions().shared())
    model = app.state.voicewire.model
    assert isinstance(model, LocalRealtimeModel)
    assert model.engines.loads == 1, "the app was built before its models were loaded"
    assert fresh.loads == 1, "the app was built before Smart Turn was loaded"
    err = capsys.readouterr().err
    for label in LABELS:
        assert f"ready {label}" in err, err
    async with serve(app) as served, raw_client(served) as client:
        semantic = {"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
        await client.send({"type": "session.update", "session": {"type": "realtime", **semantic}})
        updated = await client.until("session.updated", timeout=30)
    detection = updated[-1]["session"]["audio"]["input"]["turn_detection"]
    assert detection["type"] == "semantic_vad", detection
    assert model.engines.loads == 1, "the first session loaded the models again"
    assert fresh.loads == 1, "the first session loaded Smart Turn again"


async def test_each_worker_says_each_model_is_ready_before_serve_says_it_serves() -> None:
    options = ("--model", "local", "--workers", "2")
    async with voicewire_serve(*options, within=150) as served:
        pass  # it printed its URL: every worker said each model was ready before
    progress = served.err.decode()
    for label in LABELS:
        assert progress.count(f"ready {label}") == 2, progress
