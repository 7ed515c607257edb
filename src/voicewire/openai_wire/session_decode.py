"""The GA ``session`` object as a client sends it, read by the server into a neutral config.

:func:`parse_session` reads a ``session.update``'s session into a neutral :class:`SessionConfig`
(``None`` wherever the client left a setting alone). Writing session objects, both the client's
``session.update`` and the server's full ``session.created``, is :mod:`.session_encode`'s.

Audio formats are read by :func:`~.formats.parse_audio_format` (which rates a client may ask for
is said there).

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

from .fields import MISSING, Fields, shown
from .formats import parse_audio_format

__all__ = [
    "MODALITIES",
    "parse_max_tokens",
    "parse_session",
    "parse_tool_choice",
]


MODALITIES: Final = ("audio", "text")
_TOOL_CHOICES: Final = ("auto", "none", "required")
_EAGERNESS: Final = ("low", "medium", "high", "auto")
_TURN_DETECTION: Final = ("server_vad", "semantic_vad")


def parse_session(session: Mapping[str, Any], fields: Fields) -> SessionConfig:
    """A GA session object (``session.update``'s ``session``) as a :class:`SessionConfig`."""
    kind = session.get("type")
    if kind is not None and kind != "realtime":
        raise fields.invalid(
            "session.type",
            f"must be 'realtime', got {shown(kind)}; transcription sessions are not served here",
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
    tool_choice = parse_tool_choice(session, "session.tool_choice", fields)
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
    path = "session.output_modalities"
    return tuple(
        cast(Modality, fields.choice(value, f"{path}[{index}]", MODALITIES))
        for index, value in enumerate(raw)
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
    mode = fields.choice(raw.get("type", MISSING), f"{path}.type", _TURN_DETECTION)
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
    eagerness = fields.opt_choice(raw, "eagerness", f"{path}.eagerness", _EAGERNESS)
    return TurnDetection(
        mode="semantic_vad",
        eagerness=cast(Literal["low", "medium", "high", "auto"] | None, eagerness),
        create_response=create_response,
        interrupt_response=interrupt_response,
    )


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
            raise fields.invalid(
                f"{path}.type", f"only function tools are supported, got {shown(kind)}"
            )
        parameters = fields.opt_mapping(tool, "parameters", f"{path}.parameters")
        tools.append(
            ToolDefinition(
                name=fields.text(tool, "name", f"{path}.name"),
                description=fields.opt_text(tool, "description", f"{path}.description") or "",
                parameters=parameters if parameters is not None else {"type": "object"},
            )
        )
    return tuple(tools)


def parse_tool_choice(obj: Mapping[str, Any], path: str, fields: Fields) -> str | None:
    """A session's or a response's ``tool_choice``: a mode, or the name of the one function."""
    raw = obj.get("tool_choice")
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in _TOOL_CHOICES:
            raise fields.invalid(
                path, f"must be auto, none, required or an object, got {shown(raw)}"
            )
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
    raise fields.invalid(path, f"must be an integer within 1..4096 or 'inf', got {shown(raw)}")
