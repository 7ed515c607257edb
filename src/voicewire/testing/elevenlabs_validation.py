"""Strict validation of ElevenLabs Agents WebSocket messages against the official AsyncAPI.

The schemas come from ElevenLabs' own contract, ``agent.asyncapi.yaml`` (a copy ships in
``voicewire/testing/specs/``, see its README for the source commit), so that the fake server and
the codec are checked against the provider's published types rather than against each other.
The spec needs four adjustments before a JSON-Schema validator can use it:

* It is loaded without YAML 1.1 booleans: the ``Language`` enum lists ``no`` (Norwegian), which
  a plain YAML loader turns into ``False`` so that the real language code would be rejected.
* ``nullable: true`` (OpenAPI) becomes a union with ``"null"``.
* ``#/components/schemas/X`` references point at ``$defs`` of one resource in a ``referencing``
  registry, and messages are validated with Draft 2020-12.
* Client messages (what our codec sends) get ``additionalProperties: false`` on every object
  schema that lists its properties, so a misspelt or invented key is an error. Server messages
  do not: the provider adds fields over time, and a client must accept them.

A message's schema is chosen by its ``type`` (the payload's ``type`` ``const``); audio from the
client has no ``type`` and is recognised by its ``user_audio_chunk`` key, as the server does.
``base64`` formats are checked too. ``pyyaml`` and ``jsonschema`` are test dependencies and are
imported on first use.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import importlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "client_message_types",
    "load_elevenlabs_spec",
    "server_message_types",
    "validate_elevenlabs_client",
    "validate_elevenlabs_server",
]

SPEC_FILE = "elevenlabs_agents_asyncapi.yaml"
"""The spec's file name inside ``voicewire/testing/specs``."""

_AUDIO_KEY = "user_audio_chunk"
_AUDIO_TYPE = "<user_audio_chunk>"
_RESOURCE = "urn:voicewire:elevenlabs-agents"
_MAX_PROBLEMS = 5
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def validate_elevenlabs_client(message: Mapping[str, Any]) -> list[str]:
    """Problems of one client -> server message (empty list: valid).

    Unknown keys anywhere in a declared object are errors (``additionalProperties: false``).
    """
    return _validate(_validators().client, message, client=True)


def validate_elevenlabs_server(message: Mapping[str, Any]) -> list[str]:
    """Problems of one server -> client message (empty list: valid); unknown keys are allowed."""
    return _validate(_validators().server, message, client=False)


def client_message_types() -> frozenset[str]:
    """The ``type`` of every client message the spec declares (audio as ``<user_audio_chunk>``)."""
    return frozenset(_validators().client)


def server_message_types() -> frozenset[str]:
    """The ``type`` of every server message the spec declares."""
    return frozenset(_validators().server)


@functools.cache
def load_elevenlabs_spec() -> dict[str, Any]:
    """The AsyncAPI document, parsed with YAML 1.2 booleans only (``no`` stays a string)."""
    yaml = importlib.import_module("yaml")

    # A SafeLoader subclass whose booleans are only true/false (the YAML 1.2 core schema).
    loader: Any = type("_Yaml12Loader", (yaml.SafeLoader,), {})
    bool_tag = "tag:yaml.org,2002:bool"
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(bool_tag, _YAML12_BOOL, list("tTfF"))
    text = resources.files("voicewire.testing").joinpath("specs", SPEC_FILE).read_text("utf-8")
    spec: dict[str, Any] = yaml.load(text, Loader=loader)
    return spec


@dataclass(frozen=True, slots=True)
class _Validators:
    client: dict[str, Any]
    server: dict[str, Any]


@functools.cache
def _validators() -> _Validators:
    jsonschema = importlib.import_module("jsonschema")
    referencing = importlib.import_module("referencing")
    jsonschema_specs = importlib.import_module("referencing.jsonschema")
    spec = load_elevenlabs_spec()
    schemas: dict[str, Any] = {
        name: _to_json_schema(schema) for name, schema in spec["components"]["schemas"].items()
    }
    strict = {name: _forbid_unknown_keys(schema) for name, schema in schemas.items()}
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("base64", raises=(binascii.Error, ValueError, TypeError))(_is_base64)

    def build(channel: str, defs: dict[str, Any]) -> dict[str, Any]:
        resource = jsonschema_specs.DRAFT202012.create_resource({"$defs": defs})
        registry = referencing.Registry().with_resource(_RESOURCE, resource)
        validators: dict[str, Any] = {}
        for name in _payload_names(spec, channel):
            kind = _message_type(schemas[name])
            validators[kind] = jsonschema.Draft202012Validator(
                {"$ref": f"{_RESOURCE}#/$defs/{name}"}, registry=registry, format_checker=checker
            )
        return validators

    # In this spec "subscribe" is what the server receives (client -> server), "publish" what it
    # sends; the spec's own comments say so.
    return _Validators(client=build("subscribe", strict), server=build("publish", schemas))


def _payload_names(spec: Mapping[str, Any], channel: str) -> list[str]:
    """The payload schema names of one direction of the ``AgentMessages`` channel."""
    messages = spec["components"]["messages"]
    names: list[str] = []
    for ref in spec["channels"]["AgentMessages"][channel]["message"]["oneOf"]:
        message = messages[ref["$ref"].rsplit("/", 1)[-1]]
        names.append(message["payload"]["$ref"].rsplit("/", 1)[-1])
    return names


def _message_type(payload: Mapping[str, Any]) -> str:
    """The ``type`` const of a payload schema; audio (no type) is ``<user_audio_chunk>``."""
    kind = payload.get("properties", {}).get("type", {}).get("const")
    if isinstance(kind, str):
        return kind
    if _AUDIO_KEY in payload.get("properties", {}):
        return _AUDIO_TYPE
    raise ValueError(f"a message payload without a type const: {payload}")


def _to_json_schema(node: Any) -> Any:
    """OpenAPI-flavoured schema -> JSON Schema 2020-12: ``nullable`` as a null union, component
    references as ``$defs`` of the registry resource."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        out["$ref"] = f"{_RESOURCE}#/$defs/{ref.rsplit('/', 1)[-1]}"
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(kind, str) and "enum" not in out and "const" not in out:
            out["type"] = [kind, "null"]
        else:
            description = out.pop("description", None)
            out = {"anyOf": [out, {"type": "null"}]}
            if description is not None:
                out["description"] = description
    return out


def _forbid_unknown_keys(node: Any) -> Any:
    """A copy where every object schema listing ``properties`` (and not saying otherwise) gets
    ``additionalProperties: false``; free-form objects (no ``properties``) stay open."""
    if isinstance(node, list):
        return [_forbid_unknown_keys(item) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    out = {key: _forbid_unknown_keys(value) for key, value in node.items()}
    if isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword reports it
    base64.b64decode(value, validate=True)
    return True


def _validate(
    validators: Mapping[str, Any], message: Mapping[str, Any], *, client: bool
) -> list[str]:
    if not isinstance(message, Mapping):
        return [f"<message>: a message must be a JSON object, not {type(message).__name__}"]
    try:
        data = json.loads(json.dumps(message))
    except (TypeError, ValueError) as exc:
        return [f"<message>: not JSON-serialisable: {exc}"]
    kind = data.get("type")
    if kind is None and client and _AUDIO_KEY in data:
        kind = _AUDIO_TYPE
    validator = validators.get(kind) if isinstance(kind, str) else None
    if validator is None:
        if kind is None:
            return ["<message>: missing 'type' (and not a user_audio_chunk)"]
        side = "client" if client else "server"
        return [f"<message>: unknown {side} message type {kind!r}"]
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), e.message))
    problems = (f"{kind}: {_path(error.absolute_path)}: {_describe(error)}" for error in errors)
    return list(dict.fromkeys(problems))[:_MAX_PROBLEMS]


def _path(parts: Iterable[str | int]) -> str:
    """``a.b[0].c`` from a jsonschema path; ``<message>`` for the message itself."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
    return path.lstrip(".") or "<message>"


def _describe(error: Any) -> str:
    """One line for a jsonschema error; for unions, the reason of the branch that was meant (a
    ``null`` branch is only meant when nothing else is left)."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return "unknown key(s): " + ", ".join(repr(key) for key in unknown)
    if error.context:
        branches = [e for e in error.context if e.schema.get("type") != "null"] or error.context
        return _describe(min(branches, key=lambda e: (-len(e.absolute_path), e.message)))
    return str(error.message)
