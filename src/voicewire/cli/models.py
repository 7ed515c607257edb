"""Turning command-line words into agents and models."""

from __future__ import annotations

import importlib
from typing import Any

from ..agent import RealtimeAgent
from ..protocol import ConfigurationError, RealtimeModel, SessionConfig, TranscriptionConfig

DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Answer briefly, in one or two sentences."
PROVIDERS = ("local", "openai", "xai", "gemini", "elevenlabs", "scripted")
MODEL_HELP = (
    "provider[:model_id]: local[:qwen|:file.gguf|:http://llm/v1], openai[:model], xai[:model], "
    "gemini[:model], elevenlabs:<agent_id>, scripted"
)


def default_agent() -> RealtimeAgent:
    return RealtimeAgent(id="assistant", name="Assistant", instructions=DEFAULT_INSTRUCTIONS)


def load_agent(spec: str | None) -> RealtimeAgent:
    """``module:attribute`` naming a RealtimeAgent (or a function returning one)."""
    if spec is None:
        return default_agent()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"--agent must look like 'module:attribute', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r} for --agent: {exc}") from None
    try:
        value: Any = getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(f"{module_name!r} has no attribute {attribute!r}") from None
    if callable(value) and not isinstance(value, RealtimeAgent):
        value = value()
    if not isinstance(value, RealtimeAgent):
        raise ConfigurationError(f"{spec!r} is a {type(value).__name__}, not a RealtimeAgent")
    return value


def load_model(spec: str, *, base_url: str | None = None) -> RealtimeModel:
    """``provider[:model_id]``: ``local`` (``local:qwen`` for the opt-in Qwen,
    ``local:<file.gguf>``, ``local:<http(s) endpoint>``), ``openai:gpt-realtime``,
    ``xai:grok-voice-latest``,
    ``gemini`` / ``gemini:<model>`` (Gemini Live), ``elevenlabs:<agent_id>`` (an ElevenLabs
    agent: the id is required), or ``scripted`` / ``scripted:echo`` (the deterministic test
    model: a short spoken reply, or every input chunk sent straight back, for trying a server
    without any model). Keys are read from the environment when the model connects, and a
    missing one is the model's :class:`~voicewire.protocol.AuthenticationError` then."""
    provider, _, model_id = spec.partition(":")
    if provider in ("gemini", "elevenlabs"):
        return _socket_provider(provider, model_id, spec, base_url)
    if provider == "openai":
        from ..providers import openai

        return openai.realtime(model_id or openai.DEFAULT_MODEL, base_url=base_url)
    if provider == "xai":
        from ..providers import xai

        return xai.realtime(model_id or xai.DEFAULT_MODEL, base_url=base_url)
    if provider == "local":
        try:
            local = importlib.import_module("voicewire.providers.local")
        except ImportError as exc:
            raise ConfigurationError(
                f"the local model is not available ({exc}); install it with "
                "pip install 'voicewire[local]'"
            ) from None
        model: RealtimeModel = local.realtime(model_id or None)
        return model
    if provider == "scripted":
        from ..testing import AudioReply, ScriptedModel

        if model_id not in ("", "echo"):
            raise ConfigurationError(f"--model scripted takes ':echo' or nothing, got {spec!r}")
        scripted = ScriptedModel(echo=model_id == "echo", model_id=spec)
        scripted.script.default = AudioReply("Okay.")
        return scripted
    raise ConfigurationError(
        f"unknown provider {provider!r} in --model {spec!r}; use one of {', '.join(PROVIDERS)}"
    )


def _socket_provider(
    provider: str, model_id: str, spec: str, base_url: str | None
) -> RealtimeModel:
    """Gemini Live or an ElevenLabs agent (their modules are imported only when asked for)."""
    module: Any = importlib.import_module(f"voicewire.providers.{provider}")
    if provider == "gemini":
        gemini_model: RealtimeModel = module.realtime(
            model_id or module.DEFAULT_MODEL, base_url=base_url
        )
        return gemini_model
    if not model_id:
        raise ConfigurationError(
            f"--model {spec!r} names no agent: an ElevenLabs agent is chosen by its id, as in "
            "--model elevenlabs:agent_0123456789 (the id is in the agent's settings at "
            "elevenlabs.io; private agents also need ELEVENLABS_API_KEY)"
        )
    agent_model: RealtimeModel = module.realtime(model_id, base_url=base_url)
    return agent_model


def transcription_for(model: RealtimeModel) -> TranscriptionConfig:
    """Ask for the user's words to be transcribed (OpenAI needs a transcription model named;
    Gemini transcribes with its own, an ElevenLabs agent as its settings say)."""
    return TranscriptionConfig(
        model="gpt-4o-mini-transcribe" if model.provider == "openai" else None
    )


def session_config_for(model: RealtimeModel, agent: RealtimeAgent) -> SessionConfig:
    """The session defaults the commands use: the user's words transcribed, and, for an
    ElevenLabs agent run with the built-in default agent (no ``--agent``), no override of the
    agent's own prompt: that agent is configured at ElevenLabs, and a conversation that asks to
    override a field the agent does not allow is closed by ElevenLabs."""
    options: dict[str, object] = {}
    if model.provider == "elevenlabs" and _is_default(agent):
        options["overrides"] = False
    return SessionConfig(transcription=transcription_for(model), provider_options=options)


def _is_default(agent: RealtimeAgent) -> bool:
    default = default_agent()
    return (agent.id, agent.instructions) == (default.id, default.instructions)
