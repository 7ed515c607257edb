"""The ``setup`` message: the whole :class:`~voicewire.protocol.SessionConfig` as Gemini takes it.

Gemini fixes a session's configuration in its first frame; nothing of it changes while the socket
is open, but a resumption may send a new one (everything except the model). Placement follows
google-genai's converter (``_LiveConnectConfig_to_mldev``): modalities, voice and token limits
inside ``generationConfig``; instructions, tools, turn detection, transcription, resumption and
context compression at the top of ``setup``. Keys are camelCase, the proto3 JSON spelling.

``contextWindowCompression`` is on by default: without it an audio session is cut at 15 minutes.
``provider_options`` are merged last, deeply (so ``{"generationConfig": {"temperature": 0.6}}``
adds a field), and a ``None`` value removes a key (``{"contextWindowCompression": None}`` turns
compression off).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ...protocol import ConfigurationError, SessionConfig, ToolDefinition, TurnDetection

__all__ = [
    "DEFAULT_COMPRESSION",
    "INPUT_RATE",
    "OUTPUT_RATE",
    "build_setup",
    "model_name",
    "takes_realtime_text",
]

INPUT_RATE = 16000
"""Gemini hears 16 kHz PCM16 mono."""
OUTPUT_RATE = 24000
"""Gemini speaks 24 kHz PCM16 mono."""

DEFAULT_COMPRESSION: Mapping[str, Any] = {"slidingWindow": {}}
"""A sliding window with the server's default sizes: the session outlives the 15-minute cap."""

_MAJOR = re.compile(r"gemini-(\d+)")


def model_name(model_id: str) -> str:
    """``models/<id>``, the resource name ``setup.model`` takes."""
    return model_id if model_id.startswith("models/") else f"models/{model_id}"


def takes_realtime_text(model_id: str) -> bool:
    """Whether the model takes typed text as ``realtimeInput.text`` (Gemini 3 and later, which
    reject ``clientContent`` after the first turn) rather than as ``clientContent`` turns."""
    match = _MAJOR.search(model_id)
    return match is not None and int(match.group(1)) >= 3


def build_setup(
    model_id: str, config: SessionConfig | None, *, handle: str | None = None
) -> dict[str, Any]:
    """The ``{"setup": {...}}`` frame for ``config``; ``handle`` resumes that session."""
    config = config or SessionConfig()
    setup: dict[str, Any] = {"model": model_name(model_id)}
    setup["generationConfig"] = _generation_config(config)
    if config.instructions:
        setup["systemInstruction"] = {"parts": [{"text": config.instructions}]}
    if config.tools and config.tool_choice != "none":
        setup["tools"] = [{"functionDeclarations": [_declaration(t) for t in config.tools]}]
    if config.turn_detection is not None:
        setup["realtimeInputConfig"] = _realtime_input_config(config.turn_detection)
    if config.transcription is not None:
        setup["inputAudioTranscription"] = {}
    if "audio" in _modalities(config):
        setup["outputAudioTranscription"] = {}
    setup["sessionResumption"] = {"handle": handle} if handle else {}
    setup["contextWindowCompression"] = copy.deepcopy(dict(DEFAULT_COMPRESSION))
    _merge(setup, config.provider_options)
    return {"setup": setup}


def _modalities(config: SessionConfig) -> tuple[str, ...]:
    modalities = tuple(config.modalities) if config.modalities is not None else ("audio",)
    if not modalities:
        raise ConfigurationError("modalities must name at least one of 'audio' or 'text'")
    return modalities


def _generation_config(config: SessionConfig) -> dict[str, Any]:
    # Gemini Live answers in one modality: audio (with its transcript) or text.
    modality = "AUDIO" if "audio" in _modalities(config) else "TEXT"
    generation: dict[str, Any] = {"responseModalities": [modality]}
    voice = config.voice.voice_id if config.voice else None
    if voice:
        generation["speechConfig"] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}}
    if config.max_output_tokens is not None:
        generation["maxOutputTokens"] = config.max_output_tokens
    return generation


def _declaration(tool: ToolDefinition) -> dict[str, Any]:
    """A function declaration; the JSON schema goes as ``parametersJsonSchema``, which takes
    standard JSON Schema as is (``parameters`` wants Gemini's own OpenAPI subset)."""
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    if tool.parameters:
        declaration["parametersJsonSchema"] = copy.deepcopy(dict(tool.parameters))
    return declaration


def _realtime_input_config(turn: TurnDetection) -> dict[str, Any]:
    if turn.mode == "semantic_vad":
        raise ConfigurationError(
            "gemini has no semantic turn detection; use server_vad or manual turn detection"
        )
    result: dict[str, Any] = {}
    if turn.mode == "manual":
        result["automaticActivityDetection"] = {"disabled": True}
    else:
        if not turn.create_response:
            raise ConfigurationError(
                "gemini answers every turn its voice detection ends; for create_response=False "
                "use manual turn detection"
            )
        detection: dict[str, Any] = {"disabled": False}
        if turn.threshold is not None and turn.threshold != 0.5:
            # A higher threshold needs louder speech: the detector is less sensitive to starts.
            level = "LOW" if turn.threshold > 0.5 else "HIGH"
            detection["startOfSpeechSensitivity"] = f"START_SENSITIVITY_{level}"
        if turn.prefix_padding_ms is not None:
            detection["prefixPaddingMs"] = turn.prefix_padding_ms
        if turn.silence_duration_ms is not None:
            detection["silenceDurationMs"] = turn.silence_duration_ms
        result["automaticActivityDetection"] = detection
    if not turn.interrupt_response:
        result["activityHandling"] = "NO_INTERRUPTION"
    return result


def _merge(target: dict[str, Any], options: Mapping[str, Any]) -> None:
    """Lay ``options`` over ``target`` in place: mappings merge, ``None`` deletes, others win."""
    for key, value in options.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)
