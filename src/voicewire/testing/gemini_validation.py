"""Strict validation of Gemini Live (BidiGenerateContent) wire frames against ``google-genai``.

The official ``google-genai`` package publishes the Live API's messages as pydantic models
(``types.LiveClientMessage`` / ``types.LiveServerMessage``, ``extra='forbid'``, camelCase aliases).
Validating against them alone is not strict enough, so a wrapper adds what they let through:

* **one message kind per frame**: the models do not enforce the proto ``oneof`` (``{}`` and two
  top-level keys both pass). A client frame must have exactly one top-level key; a server frame
  exactly one kind plus, optionally, the top-level ``usageMetadata``. ``realtimeInput`` carries
  exactly one field per frame, as the SDK enforces.
* **``setup.realtimeInputConfig``** is missing from ``LiveClientSetup`` (google-genai 2.19 and
  3.6.1), so a valid setup carrying it would be rejected: it is popped and validated against
  ``types.RealtimeInputConfig`` on its own.
* **unknown enum values** are accepted by the SDK's case-insensitive enums with only a
  ``UserWarning``: here the warning is a problem, and so is a known value spelled in another
  case (proto3 JSON enum names are exact), except JSON-Schema-style lowercase ``type`` in a
  function's ``parameters`` Schema, which Google's own REST examples use.
* **scalar types**: pydantic's lax mode takes ``"true"`` for a boolean and pads bad base64; here a
  boolean must be a JSON boolean and bytes padded base64 (standard or URL-safe alphabet, both
  proto3 JSON; the SDK sends URL-safe).
* **casing**: the models accept snake_case field names too (``populate_by_name``), as Google's
  proto3 JSON parser does, and the google-genai SDK itself sends mixed casing. With
  ``camel_case=True`` every field name must be the camelCase one; keys of free-form maps
  (function arguments, a function response, Schema property names) are data and never checked.
* Developer API rules the models do not encode: ``setup.model`` is ``models/<id>``;
  ``sessionResumption.transparent`` is Vertex-only; a ``functionResponse`` needs ``id``, ``name``
  and an object ``response``; a content ``role`` is ``user`` or ``model``.

``google-genai`` is a test-only dependency, imported on first use; without it every function
raises :class:`RuntimeError` saying how to install it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import json
import re
import warnings
from collections.abc import Mapping
from typing import Any

import pydantic

__all__ = [
    "GEMINI_CLIENT_KINDS",
    "GEMINI_SERVER_KINDS",
    "check_gemini_client",
    "decode_base64",
    "validate_gemini_client",
    "validate_gemini_server",
]

GEMINI_CLIENT_KINDS = frozenset(
    {"setup", "clientContent", "realtimeInput", "toolResponse", "contextUpdate"}
)
"""The camelCase top-level keys of a client frame (the proto ``oneof``)."""

GEMINI_SERVER_KINDS = frozenset(
    {
        "setupComplete",
        "serverContent",
        "toolCall",
        "toolCallCancellation",
        "goAway",
        "sessionResumptionUpdate",
        "voiceActivityDetectionSignal",
        "voiceActivity",
    }
)
"""The camelCase message kinds of a server frame; ``usageMetadata`` may come beside any."""

_MAX_PROBLEMS = 8
_ROLES = frozenset({"user", "model"})
_SNAKE = re.compile(r"_([a-z0-9])")


def _camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


@functools.cache
def _types() -> Any:
    try:
        from google.genai import types
    except ImportError as exc:
        raise RuntimeError(
            "Gemini wire validation needs the 'google-genai' package (a test dependency): "
            "pip install google-genai"
        ) from exc
    return types


def validate_gemini_client(msg: Mapping[str, Any], *, camel_case: bool = False) -> list[str]:
    """Problems of one client frame (parsed JSON); an empty list when it is valid.

    ``camel_case=True`` also requires every field name to be camelCase (what voicewire's codec
    sends; the google-genai SDK does not).
    """
    problems, casing = check_gemini_client(msg)
    return (problems + casing)[:_MAX_PROBLEMS] if camel_case else problems


def check_gemini_client(msg: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Validate one client frame; returns ``(problems, casing)``: what is invalid whatever the
    casing, and the field names that are not camelCase (allowed by Google, not by our codec)."""
    types = _types()
    if not isinstance(msg, Mapping):
        return [f"<frame>: a client frame must be a JSON object, not {type(msg).__name__}"], []
    raw = _json_copy(msg)
    if not isinstance(raw, dict):
        return [f"<frame>: not JSON-serialisable: {raw}"], []
    keys = list(raw)
    kinds = [k for k in keys if _camel(k) in GEMINI_CLIENT_KINDS]
    if len(keys) != 1 or len(kinds) != 1:
        return [
            f"<frame>: exactly one of {sorted(GEMINI_CLIENT_KINDS)} expected at the top level, "
            f"got {keys}"
        ], []
    kind_key = keys[0]
    kind = _camel(kind_key)
    body = raw[kind_key]
    problems: list[str] = []
    casing: list[str] = []
    ric: tuple[str, Any] | None = None
    if kind == "setup" and isinstance(body, dict):
        for spelling in ("realtimeInputConfig", "realtime_input_config"):
            if spelling in body:
                ric = (spelling, body.pop(spelling))
    model = _validate_model(types.LiveClientMessage, raw, "", problems)
    if model is not None:
        _walk(model, raw, "", problems, casing)
    if ric is not None:
        spelling, value = ric
        path = f"{kind_key}.{spelling}"
        if spelling != "realtimeInputConfig":
            casing.append(f"{path}: not camelCase (realtimeInputConfig)")
        sub = _validate_model(types.RealtimeInputConfig, value, path, problems)
        if sub is not None:
            _walk(sub, value, path, problems, casing)
    _semantic_client(kind, kind_key, body, problems)
    return problems[:_MAX_PROBLEMS], casing[:_MAX_PROBLEMS]


def validate_gemini_server(msg: Mapping[str, Any], *, camel_case: bool = True) -> list[str]:
    """Problems of one server frame (parsed JSON) against ``types.LiveServerMessage``; empty when
    valid. The real server writes camelCase, so by default snake_case names are problems too.

    Strict on purpose (unknown keys are problems): use it on fixtures and fakes, not on frames
    from the live service, which adds fields over time.
    """
    types = _types()
    if not isinstance(msg, Mapping):
        return [f"<frame>: a server frame must be a JSON object, not {type(msg).__name__}"]
    raw = _json_copy(msg)
    if not isinstance(raw, dict):
        return [f"<frame>: not JSON-serialisable: {raw}"]
    kinds = [k for k in raw if _camel(k) in GEMINI_SERVER_KINDS]
    others = [k for k in raw if _camel(k) not in GEMINI_SERVER_KINDS]
    if len(kinds) > 1 or (not kinds and not others):
        return [
            f"<frame>: at most one of {sorted(GEMINI_SERVER_KINDS)} expected (plus "
            f"usageMetadata), got {list(raw)}"
        ]
    problems: list[str] = []
    casing: list[str] = []
    model = _validate_model(types.LiveServerMessage, raw, "", problems)
    if model is not None:
        _walk(model, raw, "", problems, casing)
    if camel_case:
        problems.extend(casing)
    return problems[:_MAX_PROBLEMS]


# --- pydantic --------------------------------------------------------------------------------


def _json_copy(msg: Mapping[str, Any]) -> Any:
    try:
        return json.loads(json.dumps(msg))
    except (TypeError, ValueError) as exc:
        return str(exc)


def _validate_model(cls: Any, value: Any, prefix: str, problems: list[str]) -> Any:
    """``cls`` validated from ``value``, or ``None`` when invalid; every validation error and
    every enum warning (an unknown value) becomes a problem."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = cls.model_validate_json(json.dumps(value))
        except pydantic.ValidationError as exc:
            model = None
            _report(exc, prefix, problems)
    for warning in caught:  # an unknown value of a case-insensitive enum
        if issubclass(warning.category, UserWarning):
            problems.append(f"{prefix or '<frame>'}: {warning.message}")
    return model


def _report(exc: pydantic.ValidationError, prefix: str, problems: list[str]) -> None:
    for error in exc.errors(include_url=False):
        path = _join(prefix, _path(error["loc"]))
        if error["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown key")
        elif error["type"] == "missing":
            problems.append(f"{path}: missing required key")
        else:
            problems.append(f"{path or '<frame>'}: {error['msg']}")


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path or path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


# --- strict walk -----------------------------------------------------------------------------


def _walk(value: Any, raw: Any, path: str, problems: list[str], casing: list[str]) -> None:
    """Walk a validated model beside the JSON it came from: scalar types, enum spelling,
    base64, and field-name casing (keys of free-form maps are data, not checked)."""
    if isinstance(value, pydantic.BaseModel):
        if not isinstance(raw, dict):
            return
        fields = type(value).model_fields
        by_key = {}
        for name, info in fields.items():
            alias = info.alias or _camel(name)
            by_key[name] = (name, alias)
            by_key[alias] = (name, alias)
        schema = type(value).__name__ == "Schema"
        for key, item in raw.items():
            if key not in by_key:
                continue
            name, alias = by_key[key]
            sub = _join(path, key)
            if key != alias:
                casing.append(f"{sub}: not camelCase ({alias})")
            if schema and name == "type":
                continue  # JSON-Schema-style lowercase types are accepted in Schema objects
            _walk(getattr(value, name), item, sub, problems, casing)
    elif isinstance(value, list):
        if isinstance(raw, list):
            for index, (item, raw_item) in enumerate(zip(value, raw, strict=False)):
                _walk(item, raw_item, f"{path}[{index}]", problems, casing)
    elif isinstance(value, dict):
        if isinstance(raw, dict):
            for key, item in value.items():
                if key in raw:
                    _walk(item, raw[key], _join(path, str(key)), problems, casing)
    elif isinstance(value, enum.Enum):
        if raw != value.value:
            problems.append(f"{path}: enum value {raw!r} must be spelled {value.value!r}")
    elif isinstance(value, bool):
        if not isinstance(raw, bool):
            problems.append(f"{path}: a boolean must be JSON true/false, not {raw!r}")
    elif isinstance(value, bytes) and decode_base64(raw) is None:
        problems.append(f"{path}: not padded base64")


def decode_base64(raw: Any) -> bytes | None:
    """The bytes of a proto3 JSON ``bytes`` value (padded base64, standard or URL-safe alphabet,
    as the google-genai SDK sends it), or ``None`` when it is not one."""
    if not isinstance(raw, str) or len(raw) % 4:
        return None
    alphabet = _URLSAFE if ("-" in raw or "_" in raw) else _STANDARD
    if alphabet.fullmatch(raw) is None:
        return None
    try:
        return base64.b64decode(raw.translate(_TO_STANDARD), validate=True)
    except (binascii.Error, ValueError):
        return None


_STANDARD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URLSAFE = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_TO_STANDARD = str.maketrans("-_", "+/")


# --- Developer API rules ---------------------------------------------------------------------


def _semantic_client(kind: str, kind_key: str, body: Any, problems: list[str]) -> None:
    if not isinstance(body, dict):
        if body is None:
            problems.append(f"{kind_key}: must be an object, not null")
        return
    if kind == "setup":
        model = body.get("model")
        if not isinstance(model, str) or not model.startswith("models/") or model == "models/":
            problems.append(f"{kind_key}.model: 'models/<model id>' required, got {model!r}")
        resumption = _get(body, "sessionResumption")
        if isinstance(resumption, dict) and "transparent" in resumption:
            problems.append(
                f"{kind_key}.sessionResumption.transparent: Vertex AI only, not accepted by the "
                "Gemini Developer API"
            )
        instruction = _get(body, "systemInstruction")
        if isinstance(instruction, dict):
            _check_role(instruction, f"{kind_key}.systemInstruction", problems)
    elif kind == "realtimeInput":
        present = [k for k, v in body.items() if v is not None]
        if len(present) != 1:
            problems.append(f"{kind_key}: exactly one input per frame expected, got {present}")
    elif kind == "clientContent":
        turns = body.get("turns")
        for index, turn in enumerate(turns if isinstance(turns, list) else []):
            if isinstance(turn, dict):
                _check_role(turn, f"{kind_key}.turns[{index}]", problems)
    elif kind == "toolResponse":
        responses = _get(body, "functionResponses")
        if not isinstance(responses, list) or not responses:
            problems.append(f"{kind_key}.functionResponses: at least one response required")
            return
        for index, response in enumerate(responses):
            where = f"{kind_key}.functionResponses[{index}]"
            if not isinstance(response, dict):
                continue
            for required in ("id", "name"):
                if not isinstance(response.get(required), str) or not response[required]:
                    problems.append(f"{where}.{required}: required by the Gemini Developer API")
            if response.get("response") is None:  # its type is the model's to check
                problems.append(f"{where}.response: required (a JSON object)")


def _check_role(content: Mapping[str, Any], where: str, problems: list[str]) -> None:
    role = content.get("role")
    if role is not None and role not in _ROLES:
        problems.append(f"{where}.role: must be 'user' or 'model', got {role!r}")


def _get(body: Mapping[str, Any], camel: str) -> Any:
    """A field by its camelCase name or its snake_case spelling."""
    if camel in body:
        return body[camel]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return body.get(snake)
