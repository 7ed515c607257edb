"""The first frame of an ElevenLabs conversation, ``conversation_initiation_client_data``, from a
:class:`~voicewire.protocol.SessionConfig`.

An ElevenLabs agent is configured on ElevenLabs' side: its tools, voice detection, turn-taking,
audio formats, LLM and voice live there. A conversation may only *override* some of them, each only
when the override is enabled in the agent's security settings; an override that is not enabled
makes the server close the socket (the providers' most reported problem). So this module sends an
override only for what the app actually set:

============================  ===============================================================
session config                initiation message
============================  ===============================================================
``instructions``              ``conversation_config_override.agent.prompt.prompt``
``voice.voice_id`` / ``speed``  ``conversation_config_override.tts.voice_id`` / ``speed``
``transcription.language``    ``conversation_config_override.agent.language``
``modalities == ["text"]``    ``conversation_config_override.conversation.text_only: true``
``tools``                     nothing: the agent's tools are the agent's (a ``client_tool_call``
                              runs the session's tool of that name)
``turn_detection``            nothing (the agent's turn model); ``manual`` is refused
============================  ===============================================================

``provider_options`` (the documented keys in :data:`PROVIDER_OPTIONS`) carry the rest:
``first_message``, ``language``, ``llm``, ``stability``, ``similarity_boost``, ``asr_keywords``,
``client_events``, ``native_mcp_server_ids`` (overrides, each needing its switch on the agent),
``dynamic_variables`` (the recommended way to personalise: no switch needed),
``custom_llm_extra_body``, ``user_id``, ``tool_mock_config``, and ``overrides: False`` to send
no override taken from the session config (keep the agent's own prompt and voice while the same
voicewire agent runs on other providers with its instructions). An unknown key is a
:class:`ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ...protocol import ConfigurationError, SessionConfig

__all__ = ["PROVIDER_OPTIONS", "initiation_message"]

PROVIDER_OPTIONS: Final[Mapping[str, str]] = {
    "first_message": "agent.first_message: what the agent says first ('' waits for the user)",
    "language": "agent.language: the conversation's language code (e.g. 'en', 'no')",
    "llm": "agent.prompt.llm: the LLM the agent uses",
    "stability": "tts.stability, 0 to 1",
    "similarity_boost": "tts.similarity_boost, 0 to 1",
    "asr_keywords": "asr.keywords: words the recogniser should favour",
    "client_events": "conversation.client_events: the server events to receive",
    "native_mcp_server_ids": "agent.native_mcp_server_ids",
    "dynamic_variables": "values for the agent's {{variables}} (no override switch needed)",
    "custom_llm_extra_body": "extra parameters for the agent's LLM",
    "user_id": "the end user's id, for ElevenLabs' conversation history",
    "tool_mock_config": "ElevenLabs' tool mocking (tests of the agent)",
    "overrides": "False: send no override taken from the session config",
}
"""The ``provider_options`` keys this provider takes, and what each becomes."""

_SPEED_RANGE: Final = (0.7, 5.0)


def initiation_message(
    config: SessionConfig | None, *, source_version: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The ``conversation_initiation_client_data`` message for ``config``, and the overrides it
    asks for (dotted paths, e.g. ``agent.prompt.prompt``; each must be enabled on the agent)."""
    config = config or SessionConfig()
    options = dict(config.provider_options)
    unknown = sorted(set(options) - set(PROVIDER_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"elevenlabs does not know the provider option(s) {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(PROVIDER_OPTIONS)}"
        )
    turn = config.turn_detection
    if turn is not None and turn.mode == "manual":
        raise ConfigurationError(
            "elevenlabs agents find the end of the user's turn themselves (the agent's turn "
            "model); manual turn detection is not supported"
        )
    override: dict[str, dict[str, Any]] = {"agent": {}, "tts": {}, "asr": {}, "conversation": {}}
    if options.pop("overrides", True) is not False:
        _from_config(config, override)
    _from_options(options, override)
    message: dict[str, Any] = {"type": "conversation_initiation_client_data"}
    sections = {name: body for name, body in override.items() if body}
    if sections:
        message["conversation_config_override"] = sections
    for key in ("custom_llm_extra_body", "dynamic_variables", "tool_mock_config"):
        if key in options:
            message[key] = _mapping(options[key], key)
    if "user_id" in options:
        message["user_id"] = _text(options["user_id"], "user_id")
    message["source_info"] = {"source": "voicewire", "version": source_version}
    return message, tuple(_paths(sections))


def _from_config(config: SessionConfig, override: dict[str, dict[str, Any]]) -> None:
    if config.instructions:
        override["agent"]["prompt"] = {"prompt": config.instructions}
    if config.transcription is not None and config.transcription.language:
        override["agent"]["language"] = config.transcription.language
    voice = config.voice
    if voice is not None and voice.voice_id:
        override["tts"]["voice_id"] = voice.voice_id
    if voice is not None and voice.speed is not None:
        low, high = _SPEED_RANGE
        if not low <= voice.speed <= high:
            raise ConfigurationError(
                f"elevenlabs voice speed must be from {low} to {high}, got {voice.speed}"
            )
        override["tts"]["speed"] = voice.speed
    if config.modalities is not None and list(config.modalities) == ["text"]:
        override["conversation"]["text_only"] = True


def _from_options(options: Mapping[str, Any], override: dict[str, dict[str, Any]]) -> None:
    agent, tts = override["agent"], override["tts"]
    if "first_message" in options:
        agent["first_message"] = _text(options["first_message"], "first_message")
    if "language" in options:
        agent["language"] = _text(options["language"], "language")
    if "llm" in options:
        agent.setdefault("prompt", {})["llm"] = _text(options["llm"], "llm")
    if "native_mcp_server_ids" in options:
        agent["native_mcp_server_ids"] = _texts(
            options["native_mcp_server_ids"], "native_mcp_server_ids"
        )
    for key in ("stability", "similarity_boost"):
        if key in options:
            tts[key] = _unit(options[key], key)
    if "asr_keywords" in options:
        override["asr"]["keywords"] = _texts(options["asr_keywords"], "asr_keywords")
    if "client_events" in options:
        override["conversation"]["client_events"] = _texts(
            options["client_events"], "client_events"
        )


def _paths(sections: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in sections.items():
        if isinstance(value, Mapping):
            paths.extend(_paths(value, f"{prefix}{key}."))
        else:
            paths.append(f"{prefix}{key}")
    return paths


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"elevenlabs provider option {key!r} must be a string")
    return value


def _texts(value: object, key: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigurationError(f"elevenlabs provider option {key!r} must be a list of strings")
    return [_text(v, key) for v in value]


def _unit(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigurationError(f"elevenlabs provider option {key!r} must be a number 0 to 1")
    return float(value)


def _mapping(value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"elevenlabs provider option {key!r} must be an object")
    return dict(value)
