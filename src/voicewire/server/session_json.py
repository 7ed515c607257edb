"""The GA ``session`` object, server side: parse what a client sends, render what it is shown.

:func:`parse_session` reads a ``session.update``'s session into a neutral :class:`SessionConfig`
(``None`` wherever the client left a setting alone). :func:`render_session` writes the full
session object of ``session.created`` / ``session.updated``, the shape of the SDK's
``RealtimeSessionCreateRequest`` (which declares no ``id``/``object``/``expires_at``, so none are
sent).

Settings the neutral config has no name for (``noise_reduction``, ``tracing``, ``truncation``,
``prompt``, ``include``, ``reasoning``, ``parallel_tool_calls``, the model) are accepted and
ignored: the server, not the client, picks the model and how it is driven.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, cast

from voicewire.protocol import (
    AudioFormat,
    Modality,
    SessionConfig,
    ToolDefinition,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
)
from voicewire.providers.openai_protocol.json_values import MISSING
from voicewire.providers.openai_protocol.session_encoding import (
    encode_modalities,
    encode_tool_choice,
    encode_tools,
    encode_transcription,
    encode_turn_detection,
)

from ._fields import Fields

__all__ = [
    "parse_audio_format",
    "parse_max_tokens",
    "parse_session",
    "render_audio_format",
    "render_session",
]

_MODALITIES: Final = frozenset({"audio", "text"})
_TOOL_CHOICES: Final = frozenset({"auto", "none", "required"})
_EAGERNESS: Final = frozenset({"low", "medium", "high", "auto"})


def parse_session(session: Mapping[str, Any], fields: Fields) -> SessionConfig:
    """A GA session object (``session.update``'s ``session``) as a :class:`SessionConfig`."""
    kind = session.get("type")
    if kind is not None and kind != "realtime":
        raise fields.invalid(
            "session.type",
            f"must be 'realtime', got {kind!r}; transcription sessions are not served here",
            code="unsupported_session_type",
        )
    instructions = fields.opt_text(session, "instructions", "session.instructions")
    modalities = _parse_modalities(session, fields)
    audio = fields.opt_mapping(session, "audio", "session.audio") or {}
    audio_in = fields.opt_mapping(audio, "input", "session.audio.input") or {}
    audio_out = fields.opt_mapping(audio, "output", "session.audio.output") or {}
    input_format = _opt_format(audio_in, "session.audio.input.format", fields)
    output_format = _opt_format(audio_out, "session.audio.output.format", fields)
    transcription = _parse_transcription(audio_in, fields)
    turn_detection = _parse_turn_detection(audio_in, fields)
    voice = _parse_voice(audio_out, fields)
    tools = _parse_tools(session, fields)
    tool_choice = _parse_tool_choice(session, fields)
    max_tokens = parse_max_tokens(session, "session.max_output_tokens", fields)
    return SessionConfig(
        instructions=instructions,
        tools=tools,
        tool_choice=tool_choice,
        modalities=modalities,
        voice=voice,
        input_audio_format=input_format,
        output_audio_format=output_format,
        turn_detection=turn_detection,
        transcription=transcription,
        max_output_tokens=max_tokens,
    )


def _parse_modalities(session: Mapping[str, Any], fields: Fields) -> tuple[Modality, ...] | None:
    raw = fields.opt_array(session, "output_modalities", "session.output_modalities")
    if raw is None:
        return None
    for index, value in enumerate(raw):
        if value not in _MODALITIES:
            raise fields.invalid(
                f"session.output_modalities[{index}]", f"must be 'audio' or 'text', got {value!r}"
            )
    return tuple(cast(Modality, value) for value in raw)


def parse_audio_format(raw: Mapping[str, Any], path: str, fields: Fields) -> AudioFormat:
    kind = fields.text(raw, "type", f"{path}.type")
    if kind == "audio/pcm":
        rate = raw.get("rate")
        if rate is None:
            return AudioFormat.pcm16()
        return AudioFormat.pcm16(fields.integer(raw, "rate", f"{path}.rate", minimum=1))
    if kind == "audio/pcmu":
        return AudioFormat.pcmu()
    if kind == "audio/pcma":
        return AudioFormat.pcma()
    raise fields.invalid(
        f"{path}.type", f"must be 'audio/pcm', 'audio/pcmu' or 'audio/pcma', got {kind!r}"
    )


def _opt_format(audio: Mapping[str, Any], path: str, fields: Fields) -> AudioFormat | None:
    raw = fields.opt_mapping(audio, "format", path)
    return None if raw is None else parse_audio_format(raw, path, fields)


def _parse_transcription(audio_in: Mapping[str, Any], fields: Fields) -> TranscriptionConfig | None:
    path = "session.audio.input.transcription"
    raw = fields.opt_mapping(audio_in, "transcription", path)
    if raw is None:
        # null turns transcription off at OpenAI; the neutral config can only leave it alone.
        return None
    return TranscriptionConfig(
        model=fields.opt_text(raw, "model", f"{path}.model"),
        language=fields.opt_text(raw, "language", f"{path}.language"),
        prompt=fields.opt_text(raw, "prompt", f"{path}.prompt"),
    )


def _parse_turn_detection(audio_in: Mapping[str, Any], fields: Fields) -> TurnDetection | None:
    path = "session.audio.input.turn_detection"
    raw = audio_in.get("turn_detection", MISSING)
    if raw is MISSING:
        return None
    if raw is None:
        return TurnDetection(mode="manual")  # null: the client commits and asks for responses
    if not isinstance(raw, Mapping):
        raise fields.wrong(path, "an object or null", raw)
    mode = fields.text(raw, "type", f"{path}.type")
    create = fields.opt_flag(raw, "create_response", f"{path}.create_response")
    interrupt = fields.opt_flag(raw, "interrupt_response", f"{path}.interrupt_response")
    create_response = True if create is None else create
    interrupt_response = True if interrupt is None else interrupt
    if mode == "server_vad":
        return TurnDetection(
            mode="server_vad",
            threshold=fields.opt_number(raw, "threshold", f"{path}.threshold"),
            silence_duration_ms=fields.opt_integer(
                raw, "silence_duration_ms", f"{path}.silence_duration_ms"
            ),
            prefix_padding_ms=fields.opt_integer(
                raw, "prefix_padding_ms", f"{path}.prefix_padding_ms"
            ),
            create_response=create_response,
            interrupt_response=interrupt_response,
        )
    if mode == "semantic_vad":
        eagerness = fields.opt_text(raw, "eagerness", f"{path}.eagerness")
        if eagerness is not None and eagerness not in _EAGERNESS:
            raise fields.invalid(
                f"{path}.eagerness", f"must be low, medium, high or auto, got {eagerness!r}"
            )
        return TurnDetection(
            mode="semantic_vad",
            eagerness=cast(Literal["low", "medium", "high", "auto"] | None, eagerness),
            create_response=create_response,
            interrupt_response=interrupt_response,
        )
    raise fields.invalid(f"{path}.type", f"must be 'server_vad' or 'semantic_vad', got {mode!r}")


def _parse_voice(audio_out: Mapping[str, Any], fields: Fields) -> VoiceConfig | None:
    path = "session.audio.output"
    raw = audio_out.get("voice")
    voice_id: str | None
    if raw is None or isinstance(raw, str):
        voice_id = raw
    elif isinstance(raw, Mapping):  # a custom voice {"id": ...}
        voice_id = fields.text(raw, "id", f"{path}.voice.id")
    else:
        raise fields.wrong(f"{path}.voice", "a string or an object", raw)
    speed = fields.opt_number(audio_out, "speed", f"{path}.speed")
    if voice_id is None and speed is None:
        return None
    return VoiceConfig(voice_id=voice_id, speed=speed)


def _parse_tools(session: Mapping[str, Any], fields: Fields) -> tuple[ToolDefinition, ...]:
    raw = fields.opt_array(session, "tools", "session.tools") or ()
    tools: list[ToolDefinition] = []
    for index, tool in enumerate(raw):
        path = f"session.tools[{index}]"
        if not isinstance(tool, Mapping):
            raise fields.wrong(path, "an object", tool)
        kind = tool.get("type", "function")
        if kind != "function":
            raise fields.invalid(f"{path}.type", f"only function tools are supported, got {kind!r}")
        parameters = fields.opt_mapping(tool, "parameters", f"{path}.parameters")
        tools.append(
            ToolDefinition(
                name=fields.text(tool, "name", f"{path}.name"),
                description=fields.opt_text(tool, "description", f"{path}.description") or "",
                parameters=parameters if parameters is not None else {"type": "object"},
            )
        )
    return tuple(tools)


def _parse_tool_choice(session: Mapping[str, Any], fields: Fields) -> str | None:
    path = "session.tool_choice"
    raw = session.get("tool_choice")
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in _TOOL_CHOICES:
            raise fields.invalid(path, f"must be auto, none, required or an object, got {raw!r}")
        return raw
    if isinstance(raw, Mapping):
        if raw.get("type") != "function":
            raise fields.invalid(f"{path}.type", "only function tool choices are supported")
        return fields.text(raw, "name", f"{path}.name")
    raise fields.wrong(path, "a string or an object", raw)


def parse_max_tokens(obj: Mapping[str, Any], path: str, fields: Fields) -> int | None:
    """An integer cap, or ``None`` for ``"inf"`` / unset."""
    raw = obj.get("max_output_tokens")
    if raw is None or raw == "inf":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 4096:
        return raw
    raise fields.invalid(path, f"must be an integer within 1..4096 or 'inf', got {raw!r}")


# --- rendering ---------------------------------------------------------------------------------


def render_audio_format(fmt: AudioFormat) -> dict[str, Any]:
    """GA format object. OpenAI's schema fixes PCM at 24 kHz; other rates are shown as they are
    (the session really runs at that rate), which strict OpenAI clients may reject."""
    if fmt.encoding == "pcm16":
        return {"type": "audio/pcm", "rate": fmt.sample_rate}
    return {"type": "audio/pcmu" if fmt.encoding == "pcmu" else "audio/pcma"}


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
