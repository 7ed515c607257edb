"""Session and response configuration in the OpenAI Realtime GA shape (and its xAI variant).

Both sides write here: the client codec the ``session`` of a ``session.update`` (only what is
set), the server the full session object of ``session.created`` / ``session.updated``
(:func:`render_session`, the shape of the SDK's ``RealtimeSessionCreateRequest``, which declares
no ``id``/``object``/``expires_at``, so none are sent).

The whole :class:`SessionConfig` reaches the wire: instructions, output modalities, audio formats
(PCM and G.711), voice and speed, turn detection (server VAD, semantic VAD, manual), input
transcription, tools, tool choice, the output token cap, and finally ``provider_options``, deep
merged over the result so a caller can set anything the neutral config has no name for.

Settings a provider cannot honour raise :class:`ConfigurationError` here, before anything is sent,
rather than being dropped or rejected later by the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from voicewire.protocol import (
    AudioFormat,
    ConfigurationError,
    Modality,
    ResponseConfig,
    SessionConfig,
    ToolChoice,
    ToolDefinition,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
)

from .dialect import Dialect
from .formats import encode_audio_format, render_audio_format

_TOOL_CHOICE_MODES = frozenset({"auto", "none", "required"})


def encode_session(
    config: SessionConfig,
    dialect: Dialect,
    *,
    provider_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``session`` object of a ``session.update`` for ``dialect``.

    ``provider_options`` (e.g. from ``ConnectOptions``) is merged after
    ``config.provider_options``; both are deep merged last, so they win.
    """
    session: dict[str, Any] = {}
    if dialect.session_type:
        session["type"] = "realtime"
    if config.instructions is not None:
        session["instructions"] = config.instructions
    if config.modalities is not None:
        modalities = encode_modalities(config.modalities)
        if modalities is not None:
            session["output_modalities"] = modalities

    audio_input: dict[str, Any] = {}
    audio_output: dict[str, Any] = {}
    if config.input_audio_format is not None:
        audio_input["format"] = encode_audio_format(config.input_audio_format, dialect, "input")
    if config.transcription is not None:
        audio_input["transcription"] = encode_transcription(config.transcription)
    if config.turn_detection is not None:
        turn_detection = encode_turn_detection(config.turn_detection)
        if dialect.turn_detection_placement == "session":
            session["turn_detection"] = turn_detection
        else:
            audio_input["turn_detection"] = turn_detection
    if config.output_audio_format is not None:
        audio_output["format"] = encode_audio_format(config.output_audio_format, dialect, "output")
    if config.voice is not None:
        _encode_voice(config.voice, dialect, session, audio_output)
    if audio_input or audio_output:
        audio: dict[str, Any] = {}
        if audio_input:
            audio["input"] = audio_input
        if audio_output:
            audio["output"] = audio_output
        session["audio"] = audio

    session["tools"] = encode_tools(config.tools)
    if config.tool_choice is not None:
        session["tool_choice"] = encode_tool_choice(config.tool_choice)
    if config.max_output_tokens is not None:
        session["max_output_tokens"] = config.max_output_tokens

    if config.provider_options:
        deep_merge(session, config.provider_options)
    if provider_options:
        deep_merge(session, provider_options)
    return session


def encode_response(config: ResponseConfig) -> dict[str, Any]:
    """The ``response`` object of a ``response.create``: per-response overrides only."""
    response: dict[str, Any] = {}
    if config.instructions is not None:
        response["instructions"] = config.instructions
    if config.modalities is not None:
        modalities = encode_modalities(config.modalities)
        if modalities is not None:
            response["output_modalities"] = modalities
    if config.tool_choice is not None:
        response["tool_choice"] = encode_tool_choice(config.tool_choice)
    if config.tools is not None:
        response["tools"] = encode_tools(config.tools)
    if config.max_output_tokens is not None:
        response["max_output_tokens"] = config.max_output_tokens
    if config.metadata is not None:
        response["metadata"] = {str(key): str(value) for key, value in config.metadata.items()}
    return response


def encode_modalities(modalities: Sequence[Modality]) -> list[str] | None:
    """GA accepts exactly one output modality: ``["audio"]`` (speech with its transcript) or
    ``["text"]``. Asking for audio (with or without text) therefore means ``["audio"]``; an empty
    sequence keeps the provider default."""
    if not modalities:
        return None
    unknown = [m for m in modalities if m not in ("audio", "text")]
    if unknown:
        raise ConfigurationError(f"unknown output modality {unknown[0]!r}; use 'audio' or 'text'")
    return ["audio"] if "audio" in modalities else ["text"]


def _encode_voice(
    voice: VoiceConfig, dialect: Dialect, session: dict[str, Any], audio_output: dict[str, Any]
) -> None:
    if voice.voice_id is not None:
        if dialect.voice_placement == "session":
            session["voice"] = voice.voice_id
        else:
            audio_output["voice"] = voice.voice_id
    if voice.speed is not None:
        audio_output["speed"] = voice.speed


def encode_turn_detection(turn: TurnDetection) -> dict[str, Any] | None:
    """``None`` (JSON ``null``) for manual turns: the caller commits and asks for responses."""
    if turn.mode == "manual":
        return None
    encoded: dict[str, Any] = {"type": turn.mode}
    if turn.mode == "server_vad":
        if turn.eagerness is not None:
            raise ConfigurationError("turn detection 'eagerness' applies to semantic_vad only")
        if turn.threshold is not None:
            encoded["threshold"] = turn.threshold
        if turn.silence_duration_ms is not None:
            encoded["silence_duration_ms"] = turn.silence_duration_ms
        if turn.prefix_padding_ms is not None:
            encoded["prefix_padding_ms"] = turn.prefix_padding_ms
    elif turn.mode == "semantic_vad":
        vad_only = [
            name
            for name in ("threshold", "silence_duration_ms", "prefix_padding_ms")
            if getattr(turn, name) is not None
        ]
        if vad_only:
            raise ConfigurationError(
                f"turn detection {', '.join(vad_only)} apply to server_vad only, not semantic_vad"
            )
        if turn.eagerness is not None:
            encoded["eagerness"] = turn.eagerness
    else:
        raise ConfigurationError(
            f"unknown turn detection mode {turn.mode!r}; use server_vad, semantic_vad or manual"
        )
    encoded["create_response"] = turn.create_response
    encoded["interrupt_response"] = turn.interrupt_response
    return encoded


def encode_transcription(transcription: TranscriptionConfig) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    if transcription.model is not None:
        encoded["model"] = transcription.model
    if transcription.language is not None:
        encoded["language"] = transcription.language
    if transcription.prompt is not None:
        encoded["prompt"] = transcription.prompt
    return encoded


def encode_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": plain_json(tool.parameters),
        }
        for tool in tools
    ]


def encode_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """A mode (``auto``/``none``/``required``) as is; any other string names a function."""
    if choice in _TOOL_CHOICE_MODES:
        return choice
    if not choice:
        raise ConfigurationError("tool_choice must be auto, none, required or a tool name")
    return {"type": "function", "name": choice}


def plain_json(value: Any) -> Any:
    """Copy ``value`` into plain dicts and lists, so any Mapping/Sequence serializes as JSON."""
    if isinstance(value, Mapping):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    return value


def deep_merge(target: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overrides`` into ``target`` in place: mappings merge key by key (recursively), any
    other value (``None`` included, to send an explicit ``null``) replaces what was there."""
    for key, value in overrides.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            deep_merge(current, value)
        else:
            target[key] = plain_json(value)
    return target


# --- the session the server shows ----------------------------------------------------------


def render_session(config: SessionConfig, *, model: str) -> dict[str, Any]:
    """The full GA session object for ``config`` (unset settings show the usual defaults)."""
    input_format = config.input_audio_format or AudioFormat.pcm16()
    output_format = config.output_audio_format or AudioFormat.pcm16()
    turn = encode_turn_detection(config.turn_detection or TurnDetection())
    voice = config.voice or VoiceConfig()
    output: dict[str, Any] = {"format": render_audio_format(output_format)}
    if voice.voice_id is not None:
        output["voice"] = voice.voice_id
    output["speed"] = 1.0 if voice.speed is None else voice.speed
    session: dict[str, Any] = {
        "type": "realtime",
        "model": model,
        "output_modalities": encode_modalities(config.modalities or ()) or ["audio"],
    }
    if config.instructions is not None:
        session["instructions"] = config.instructions
    session.update(
        {
            "tools": encode_tools(config.tools),
            "tool_choice": encode_tool_choice(config.tool_choice or "auto"),
            "max_output_tokens": config.max_output_tokens or "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "audio": {
                "input": {
                    "format": render_audio_format(input_format),
                    "transcription": (
                        encode_transcription(config.transcription)
                        if config.transcription is not None
                        else None
                    ),
                    "noise_reduction": None,
                    "turn_detection": turn,
                },
                "output": output,
            },
        }
    )
    return session
