"""Strict validation of Realtime wire events against the official ``openai`` package's types.

"Strict" means: the event validates against ``openai.types.realtime.RealtimeClientEvent`` /
``RealtimeServerEvent`` (discriminated on ``type``, pydantic strict mode on the JSON text), and no
object anywhere in it carries a key the SDK model does not declare (the SDK's models accept
unknown keys silently; here every model's extras are collected recursively).

``openai`` is imported lazily; when it is not installed, validation is skipped and every function
returns no problems (see :func:`openai_available`).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from typing import Annotated, Any

import pydantic

__all__ = [
    "openai_available",
    "validate_client_event",
    "validate_server_event",
    "xai_client_event_to_openai",
]

_MAX_PROBLEMS = 5


@functools.cache
def _adapters() -> tuple[pydantic.TypeAdapter[Any], pydantic.TypeAdapter[Any]] | None:
    try:
        from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    except ImportError:
        return None
    client: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
        Annotated[RealtimeClientEvent, pydantic.Field(discriminator="type")]
    )
    server: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
        Annotated[RealtimeServerEvent, pydantic.Field(discriminator="type")]
    )
    return client, server


def openai_available() -> bool:
    """Whether the ``openai`` package (and so strict validation) is available."""
    return _adapters() is not None


def validate_server_event(event: Mapping[str, Any]) -> list[str]:
    """Problems of one server event against ``RealtimeServerEvent`` (empty list: valid)."""
    adapters = _adapters()
    if adapters is None:
        return []
    return _validate(adapters[1], event)


def validate_client_event(event: Mapping[str, Any], dialect: str = "openai") -> list[str]:
    """Problems of one client event against ``RealtimeClientEvent`` (empty list: valid).

    For ``dialect="xai"`` the event is first mapped to its OpenAI GA form with
    :func:`xai_client_event_to_openai`, and PCM rates xAI accepts (8000..48000 Hz) pass.
    """
    adapters = _adapters()
    if adapters is None:
        return []
    if dialect == "xai":
        event = xai_client_event_to_openai(event)
        _accept_xai_rates(event)
    return _validate(adapters[0], event)


def _accept_xai_rates(event: dict[str, Any]) -> None:
    """Replace PCM rates xAI supports by the one OpenAI's schema allows (24 kHz)."""
    session = event.get("session")
    audio = session.get("audio") if isinstance(session, dict) else None
    if not isinstance(audio, dict):
        return
    for part in audio.values():
        fmt = part.get("format") if isinstance(part, dict) else None
        rate = fmt.get("rate") if isinstance(fmt, dict) else None
        if isinstance(fmt, dict) and isinstance(rate, int) and 8000 <= rate <= 48000:
            fmt["rate"] = 24000


def xai_client_event_to_openai(event: Mapping[str, Any]) -> dict[str, Any]:
    """Map xAI's dialect to OpenAI GA: in ``session.update``, move ``session.voice`` to
    ``session.audio.output.voice`` and ``session.turn_detection`` to
    ``session.audio.input.turn_detection``, and default ``session.type`` to ``"realtime"``.
    Other events are returned unchanged (copied)."""
    result = copy.deepcopy(dict(event))
    session = result.get("session")
    if result.get("type") != "session.update" or not isinstance(session, dict):
        return result
    audio = session.get("audio")
    if "voice" in session or "turn_detection" in session:
        if not isinstance(audio, dict):
            audio = {}
            session["audio"] = audio
        if "voice" in session:
            output = audio.setdefault("output", {})
            if isinstance(output, dict):
                output["voice"] = session.pop("voice")
        if "turn_detection" in session:
            input_ = audio.setdefault("input", {})
            if isinstance(input_, dict):
                input_["turn_detection"] = session.pop("turn_detection")
    session.setdefault("type", "realtime")
    return result


def _validate(adapter: pydantic.TypeAdapter[Any], event: Mapping[str, Any]) -> list[str]:
    try:
        text = json.dumps(event)
    except (TypeError, ValueError) as exc:
        return [f"not JSON-serialisable: {exc}"]
    try:
        model = adapter.validate_json(text, strict=True)
    except pydantic.ValidationError as exc:
        return _format_errors(exc)
    problems: list[str] = []
    _collect_extras(model, "", problems)
    return problems[:_MAX_PROBLEMS]


def _format_errors(exc: pydantic.ValidationError) -> list[str]:
    errors = exc.errors(include_url=False)
    # A union reports one error list per branch. Drop the branches whose own ``type`` / ``role``
    # literal did not match (they were not meant), and the transcription-session branch of
    # ``session``, which is almost never the intended one, as long as something remains.
    mismatched = {
        e["loc"][:-1]
        for e in errors
        if e["type"] == "literal_error"
        and len(e["loc"]) >= 2
        and e["loc"][-1] in ("type", "role")
        and _is_branch(e["loc"][-2])
    }
    preferred = [
        e
        for e in errors
        if "RealtimeTranscriptionSessionCreateRequest" not in e["loc"]
        and not any(e["loc"][:i] in mismatched for i in range(1, len(e["loc"])))
    ]
    problems: list[str] = []
    for error in preferred or errors:
        path = _path(error["loc"][1:] if error["type"] != "union_tag_invalid" else ())
        if error["type"] == "union_tag_invalid":
            problem = f"unknown event type {_event_type_of(error.get('input'))!r}"
        elif error["type"] == "missing":
            problem = f"{path}: missing required key"
        else:
            problem = f"{path or '<event>'}: {error['msg']}"
        if problem not in problems:
            problems.append(problem)
        if len(problems) >= _MAX_PROBLEMS:
            break
    return problems


def _event_type_of(value: object) -> object:
    """The ``type`` of an event-like value, or ``None``."""
    return value.get("type") if isinstance(value, dict) else None


def _path(loc: tuple[int | str, ...]) -> str:
    """Dotted JSON path from a pydantic location, dropping union-branch names."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_branch(part):
            continue  # a union branch such as 'RealtimeFunctionTool' or "literal['auto']"
        else:
            out += f".{part}" if out else part
    return out


def _is_branch(part: int | str) -> bool:
    """Whether a pydantic location part names a union branch rather than a key."""
    return isinstance(part, str) and (
        part[:1].isupper() or "[" in part or part.startswith("function-")
    )


def _collect_extras(value: object, path: str, problems: list[str]) -> None:
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            problems.append(f"{path + '.' if path else ''}{key}: unknown key")
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            _collect_extras(getattr(value, name), f"{path}.{key}" if path else key, problems)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _collect_extras(item, f"{path}[{index}]", problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect_extras(item, f"{path}.{key}" if path else str(key), problems)
