"""``--model gemini[:model_id]`` and ``--model elevenlabs:<agent_id>``: what they load, their
clear errors, and a spoken turn through the real command against each provider's fake server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_converse_cli import run_cli
from voicewire.channels import read_wav, write_wav
from voicewire.cli.models import (
    PROVIDERS,
    default_agent,
    load_model,
    session_config_for,
    transcription_for,
)
from voicewire.protocol import ConfigurationError
from voicewire.testing import AudioReply, silence, tone

pytestmark = pytest.mark.timeout(60)


def test_gemini_defaults_to_the_default_model_and_takes_another() -> None:
    from voicewire.providers import gemini

    default = load_model("gemini")
    chosen = load_model("gemini:gemini-3.1-flash-live-preview", base_url="ws://127.0.0.1:9")
    assert (default.provider, default.model_id) == ("gemini", gemini.DEFAULT_MODEL)
    assert isinstance(chosen, gemini.GeminiRealtimeModel)
    assert chosen.model_id == "gemini-3.1-flash-live-preview"
    assert transcription_for(chosen).model is None


def test_elevenlabs_takes_the_agent_id_as_its_model_id() -> None:
    from voicewire.providers import elevenlabs

    model = load_model("elevenlabs:agent_0123", base_url="ws://127.0.0.1:9")
    assert isinstance(model, elevenlabs.ElevenLabsRealtimeModel)
    assert (model.provider, model.model_id) == ("elevenlabs", "agent_0123")


def test_an_elevenlabs_agent_keeps_its_own_prompt_unless_an_agent_is_given() -> None:
    from tests.cli.agent_fixture import agent

    model = load_model("elevenlabs:agent_0123", base_url="ws://127.0.0.1:9")
    assert session_config_for(model, default_agent()).provider_options == {"overrides": False}
    assert session_config_for(model, agent).provider_options == {}
    gemini = load_model("gemini", base_url="ws://127.0.0.1:9")
    assert session_config_for(gemini, default_agent()).provider_options == {}


@pytest.mark.parametrize("spec", ["elevenlabs", "elevenlabs:"])
def test_elevenlabs_without_an_agent_id_says_how_to_name_one(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="elevenlabs:agent_") as caught:
        load_model(spec)
    assert "names no agent" in str(caught.value)


def test_an_unknown_provider_lists_the_new_ones() -> None:
    assert {"gemini", "elevenlabs"} <= set(PROVIDERS)
    with pytest.raises(ConfigurationError, match="gemini, elevenlabs"):
        load_model("gemeni")


@pytest.mark.parametrize(
    ("model", "message"),
    [("elevenlabs", "names no agent"), ("gemini", "GEMINI_API_KEY")],
)
async def test_bad_new_provider_input_is_one_clear_line(
    tmp_path: Path, model: str, message: str
) -> None:
    write_wav(tmp_path / "ok.wav", silence(100), 24000)
    os.chdir(tmp_path)
    env = {"GEMINI_API_KEY": "", "GOOGLE_API_KEY": "", "ELEVENLABS_API_KEY": ""}
    code, out, err = await run_cli(
        "converse", "ok.wav", "--out", "x.wav", "--model", model, env=env
    )
    assert code == 2
    assert "error:" in err and message in err, err
    assert "Traceback" not in err + out


def _question(tmp_path: Path) -> Path:
    question = tmp_path / "question.wav"
    write_wav(question, tone(600, amplitude=0.4) + silence(900), 24000)
    return question


def _fake(provider: str) -> Any:
    """The provider's fake server, and the ``--model`` and environment that reach it."""
    from voicewire.testing import FakeElevenLabsServer, FakeGeminiServer

    if provider == "gemini":
        env = {"GEMINI_API_KEY": "g-test", "GOOGLE_API_KEY": ""}
        return FakeGeminiServer(api_key="g-test"), "gemini", env
    server = FakeElevenLabsServer(agent_id="agent_x", api_key="xi-test")
    return server, "elevenlabs:agent_x", {"ELEVENLABS_API_KEY": "xi-test"}


@pytest.mark.parametrize("provider", ["gemini", "elevenlabs"])
async def test_converse_through_the_command(tmp_path: Path, provider: str) -> None:
    reply = tmp_path / "reply.wav"
    fake, model, env = _fake(provider)
    async with fake as server:
        server.script.input_transcript = "what time is it"
        server.script.on("time", AudioReply("It is noon.", duration_ms=700))
        code, out, err = await run_cli(
            "converse",
            str(_question(tmp_path)),
            "--out",
            str(reply),
            "--model",
            model,
            "--base-url",
            server.base_url,
            env=env,
        )
        assert server.violations == []
    assert code == 0, err
    assert "you: what time is it" in out
    assert "agent: It is noon." in out
    assert "g-test" not in out + err and "xi-test" not in out + err
    recorded = read_wav(reply)
    assert recorded.sample_rate == 24000 and round(recorded.duration_ms) == 700


@pytest.mark.parametrize(
    ("key", "message"),
    [("", "This agent is private"), ("xi-wrong", "Invalid API key")],
)
async def test_a_private_elevenlabs_agent_without_the_right_key_is_one_clear_line(
    tmp_path: Path, key: str, message: str
) -> None:
    from voicewire.testing import FakeElevenLabsServer

    write_wav(tmp_path / "ok.wav", silence(100), 24000)
    async with FakeElevenLabsServer("agent_x", "xi-test", private=True) as server:
        code, out, err = await run_cli(
            "converse",
            str(tmp_path / "ok.wav"),
            "--out",
            str(tmp_path / "x.wav"),
            "--model",
            "elevenlabs:agent_x",
            "--base-url",
            server.base_url,
            env={"ELEVENLABS_API_KEY": key},
        )
    assert code == 2
    assert "error:" in err and message in err, err
    assert "Traceback" not in err + out and "xi-wrong" not in err + out
