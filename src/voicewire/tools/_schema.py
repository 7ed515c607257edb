"""From a function's signature to a pydantic arguments model and an OpenAI-ready JSON schema."""

from __future__ import annotations

import copy
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model
from pydantic.fields import FieldInfo

from ..context import Context
from ..protocol.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class ParamPlan:
    """How to fill one parameter of the function at call time."""

    name: str
    kind: inspect._ParameterKind
    field: str | None
    """The arguments model's field, or ``None`` for an injected :class:`Context`."""


def _is_context(annotation: Any) -> bool:
    if annotation is Context or typing.get_origin(annotation) is Context:
        return True
    if isinstance(annotation, type) and issubclass(annotation, Context):
        return True
    if typing.get_origin(annotation) is Annotated:
        return _is_context(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (Union, types.UnionType):
        # ``Context | None``: still injected.
        return any(_is_context(arg) for arg in typing.get_args(annotation))
    return False


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(
        isinstance(meta, FieldInfo) and meta.description is not None
        for meta in annotation.__metadata__
    )


def _type_hints(func: Callable[..., Any], tool_name: str) -> dict[str, Any]:
    target: Any = func
    if isinstance(func, functools.partial):
        target = func.func
    elif not (inspect.isfunction(func) or inspect.ismethod(func)) and not isinstance(func, type):
        target = type(func).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for names only defined locally, TypeError, ...
        raise ConfigurationError(
            f"tool {tool_name!r}: cannot resolve the type hints of its parameters ({exc}); "
            "define the types it uses at module level"
        ) from exc


def build_arguments_model(
    func: Callable[..., Any], tool_name: str, param_docs: Mapping[str, str]
) -> tuple[type[BaseModel], tuple[ParamPlan, ...]]:
    """Build a pydantic model whose fields are the function's non-context parameters.

    Fields are named ``p0``, ``p1``... with the parameter name as alias, so that parameters may be
    called anything (``json``, ``schema``, ``_x``) without clashing with ``BaseModel``.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"tool {tool_name!r}: cannot read its signature ({exc})") from exc
    hints = _type_hints(func, tool_name)

    fields: dict[str, Any] = {}
    plan: list[ParamPlan] = []
    for index, param in enumerate(signature.parameters.values()):
        annotation = hints.get(param.name, Any)
        if _is_context(annotation):
            plan.append(ParamPlan(param.name, param.kind, None))
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigurationError(
                f"tool {tool_name!r}: *{param.name} / **{param.name} parameters cannot be "
                "described to the model; declare each parameter explicitly"
            )
        extra: dict[str, Any] = {"alias": param.name}
        doc = param_docs.get(param.name)
        if doc and not _has_description(annotation):
            extra["description"] = doc
        field_name = f"p{index}"
        # The outer Annotated wins over the user's own metadata for what it sets, and a default
        # given as ``Field(...)`` still wins over both (pydantic merges them in that order).
        default = ... if param.default is param.empty else param.default
        fields[field_name] = (Annotated[annotation, Field(**extra)], default)
        plan.append(ParamPlan(param.name, param.kind, field_name))

    try:
        model = create_model(
            f"{tool_name}_arguments",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"tool {tool_name!r}: its parameter types cannot be validated ({exc})"
        ) from exc
    return model, tuple(plan)


def parameters_schema(model: type[BaseModel], tool_name: str) -> dict[str, Any]:
    """The model's JSON schema, reshaped for function-calling APIs.

    Non-recursive ``$defs`` are inlined at their use sites; recursive ones (a model containing
    itself) must stay as references and are kept under a root ``$defs``. ``title`` noise and
    OpenAPI ``discriminator`` (whose mapping points into ``$defs``) are dropped.
    """
    try:
        raw = model.model_json_schema()
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"tool {tool_name!r}: no JSON schema for its parameters ({exc})"
        ) from exc
    defs: dict[str, Any] = raw.get("$defs", {})
    recursive = _recursive_defs(defs)
    cleaner = _Cleaner(defs, recursive)

    schema: dict[str, Any] = {
        "type": "object",
        "properties": {k: cleaner.clean(v) for k, v in raw.get("properties", {}).items()},
        "required": list(raw.get("required", [])),
        "additionalProperties": False,
    }
    if recursive:
        schema["$defs"] = {name: cleaner.clean(defs[name]) for name in sorted(recursive)}
    return schema


_DEF_PREFIX = "#/$defs/"
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SCHEMA_VALUES = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "additionalItems",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_DROPPED = frozenset({"title", "discriminator"})


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEF_PREFIX):
            found.add(ref.removeprefix(_DEF_PREFIX))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _recursive_defs(defs: Mapping[str, Any]) -> set[str]:
    """Definitions that can reach themselves through references."""
    graph = {name: _refs(schema) for name, schema in defs.items()}
    recursive: set[str] = set()
    for start in graph:
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            name = stack.pop()
            if name == start:
                recursive.add(start)
                break
            if name not in seen:
                seen.add(name)
                stack.extend(graph.get(name, ()))
    return recursive


class _Cleaner:
    def __init__(self, defs: Mapping[str, Any], keep: set[str]) -> None:
        self._defs = defs
        self._keep = keep

    def clean(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEF_PREFIX):
            name = ref.removeprefix(_DEF_PREFIX)
            if name not in self._keep and name in self._defs:
                # Use-site keywords (the parameter's description, default) override the def's.
                return {**self.clean(self._defs[name]), **self._clean_keys(siblings)}
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            # Older pydantic wraps a described reference as ``allOf: [{$ref}]``.
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return {**self.clean(all_of[0]), **self._clean_keys(rest)}
        return self._clean_keys(node)

    def _clean_keys(self, node: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {k: self.clean(v) for k, v in value.items()}
            elif key in _SCHEMA_VALUES and isinstance(value, dict):
                out[key] = self.clean(value)
            elif (key in _SCHEMA_LISTS or key == "items") and isinstance(value, list):
                out[key] = [self.clean(v) for v in value]
            else:
                out[key] = copy.deepcopy(value)
        return out
