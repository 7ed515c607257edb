"""Shared checks for tool schemas."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from openai.types.realtime import RealtimeFunctionTool

from voicewire.tools import Tool

_JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_SCHEMA_MAPS = {"properties", "$defs", "patternProperties"}
_SCHEMA_VALUES = {"items", "additionalProperties", "not"}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}


def _walk(node: Any, root: Mapping[str, Any], path: str) -> None:
    """Check one schema node: no ``title``, no ``discriminator``, known types, resolvable refs."""
    assert isinstance(node, dict), f"{path}: schema must be an object, got {node!r}"
    assert "title" not in node, f"{path}: pydantic title left in the schema"
    assert "discriminator" not in node, f"{path}: OpenAPI discriminator left in the schema"
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), f"{path}: unexpected $ref {ref}"
        assert ref.removeprefix("#/$defs/") in root.get("$defs", {}), f"{path}: dangling {ref}"
    types = node.get("type")
    for t in types if isinstance(types, list) else [types] if types else []:
        assert t in _JSON_TYPES, f"{path}: unknown type {t!r}"
    if node.get("type") == "object" and "properties" in node and "required" in node:
        assert set(node["required"]) <= set(node["properties"]), f"{path}: required unknown"
    for key, value in node.items():
        if key in _SCHEMA_MAPS:
            for name, sub in value.items():
                _walk(sub, root, f"{path}/{key}/{name}")
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            _walk(value, root, f"{path}/{key}")
        elif key in _SCHEMA_LISTS:
            for i, sub in enumerate(value):
                _walk(sub, root, f"{path}/{key}/{i}")


def check_openai_schema(t: Tool[..., Any]) -> dict[str, Any]:
    """Assert ``t``'s schema is a plain function-tool schema the OpenAI types accept."""
    schema = t.parameters
    assert json.loads(json.dumps(schema)) == schema, "schema is not plain JSON"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert isinstance(schema["properties"], dict)
    assert isinstance(schema["required"], list)
    _walk(schema, schema, "#")
    parsed = RealtimeFunctionTool.model_validate(
        {"type": "function", "name": t.name, "description": t.description, "parameters": schema}
    )
    assert parsed.name == t.name
    assert parsed.parameters == schema
    dumped = parsed.model_dump(exclude_none=True)
    assert dumped == {
        "type": "function",
        "name": t.name,
        "description": t.description,
        "parameters": schema,
    }
    return schema


@pytest.fixture
def openai_schema() -> Callable[[Tool[..., Any]], dict[str, Any]]:
    return check_openai_schema
