"""Schemas derived from signatures and docstrings."""

import enum
import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel, Field

from voicewire.context import Context
from voicewire.protocol import ConfigurationError, ToolDefinition
from voicewire.tools import DEFAULT_TOOL_TIMEOUT, Tool, tool

Check = Callable[[Tool[..., Any]], dict[str, Any]]


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """A postal address."""

    street: str = Field(description="Street and number")
    city: str
    title: str | None = None  # a property literally named "title" must survive


class Order(BaseModel):
    items: list[str]
    ship_to: Address


class TreeNode(BaseModel):
    label: str
    children: list["TreeNode"] = []


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


@tool
def primitives(name: str, count: int, ratio: float, enabled: bool) -> str:
    return name


@tool
def defaults(city: str, days: int = 3, verbose: bool = False, label: str = "x") -> str:
    return city


@tool
def choices(
    unit: Unit, mode: Literal["brief", "full"] = "brief", level: Priority = Priority.LOW
) -> str:
    return mode


@tool
def optionals(
    a: Optional[int] = None,  # noqa: UP045 - typing.Optional on purpose
    b: str | None = None,
    c: int | None = ...,  # type: ignore[assignment]
) -> str:
    return ""


@tool
def optional_required(c: int | None) -> str:
    return ""


@tool
def containers(tags: list[str], scores: dict[str, float], matrix: list[list[int]]) -> str:
    return ""


@tool
def nested(order: Order, fallback: Address | None = None) -> str:
    return ""


@tool
def recursive(tree: TreeNode) -> str:
    return ""


@tool
def annotated(
    query: Annotated[str, Field(description="What to look for", min_length=1)],
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
) -> str:
    return query


@tool
def union_pets(
    pet: Annotated[Union[Cat, Dog], Field(discriminator="kind")],  # noqa: UP007 - on purpose
) -> str:
    return ""


@tool
def shadowing(json: str, schema: int = 0, model_config: bool = False, copy: str = "") -> str:
    return json


@tool
def no_params() -> str:
    return "ok"


@tool
def with_context(
    city: str, ctx: Context, state: Context[dict[str, int]], maybe: Context | None = None
) -> str:
    return city


@tool
def documented(city: str, unit: Unit = Unit.CELSIUS, days: int = 1) -> str:
    """Get the weather forecast
    for a city.

    The forecast comes from a provider and is cached for ten minutes;
    this paragraph is not part of the tool description.

    Args:
        city (str): The city name,
            for example "Paris".
        unit: Temperature unit.
        days: How many days ahead.

    Returns:
        A short forecast.
    """
    return city


@tool
def sphinx_documented(city: str, days: int = 1) -> str:
    """Look up a city.

    :param city: The city to look up.
    :param int days: Days ahead.
    """
    return city


@tool
def precedence(note: Annotated[str, Field(description="From Field")], other: str = "") -> str:
    """Check precedence.

    Args:
        note: From the docstring.
        other: Other from the docstring.
    """
    return note


ALL_TOOLS = [
    primitives,
    defaults,
    choices,
    optionals,
    optional_required,
    containers,
    nested,
    recursive,
    annotated,
    union_pets,
    shadowing,
    no_params,
    with_context,
    documented,
    sphinx_documented,
    precedence,
]


@pytest.mark.parametrize("t", ALL_TOOLS, ids=lambda t: t.name)
def test_every_schema_is_accepted_by_openai_realtime_types(
    t: Tool[..., Any], openai_schema: Check
) -> None:
    openai_schema(t)


def test_primitive_types(openai_schema: Check) -> None:
    schema = openai_schema(primitives)
    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "enabled": {"type": "boolean"},
        },
        "required": ["name", "count", "ratio", "enabled"],
        "additionalProperties": False,
    }


def test_defaults_make_parameters_optional() -> None:
    schema = defaults.parameters
    assert schema["required"] == ["city"]
    assert schema["properties"]["days"] == {"type": "integer", "default": 3}
    assert schema["properties"]["verbose"]["default"] is False
    assert schema["properties"]["label"]["default"] == "x"


def test_literal_and_enums_are_inlined() -> None:
    schema = choices.parameters
    assert "$defs" not in schema
    props = schema["properties"]
    assert props["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert props["mode"] == {"type": "string", "enum": ["brief", "full"], "default": "brief"}
    assert props["level"]["enum"] == [1, 2]
    assert props["level"]["type"] == "integer"
    assert props["level"]["default"] == 1
    assert schema["required"] == ["unit"]


def test_optional_parameters() -> None:
    schema = optionals.parameters
    nullable_int = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert schema["properties"]["a"] == {**nullable_int, "default": None}
    assert schema["properties"]["b"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": None,
    }
    # ``...`` as a default means required, as in pydantic.
    assert schema["required"] == ["c"]
    # Optional *type* without a default: may be null, but must be given.
    assert optional_required.parameters["required"] == ["c"]
    assert optional_required.parameters["properties"]["c"] == nullable_int


def test_containers() -> None:
    props = containers.parameters["properties"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["scores"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["matrix"] == {
        "type": "array",
        "items": {"type": "array", "items": {"type": "integer"}},
    }


def test_nested_models_are_inlined_without_titles() -> None:
    schema = nested.parameters
    assert "$defs" not in schema
    order = schema["properties"]["order"]
    assert order["type"] == "object"
    assert order["required"] == ["items", "ship_to"]
    ship_to = order["properties"]["ship_to"]
    assert ship_to["description"] == "A postal address."
    assert ship_to["properties"]["street"] == {
        "type": "string",
        "description": "Street and number",
    }
    # The *property* named "title" is kept; only pydantic's title keywords are dropped.
    assert "title" in ship_to["properties"]
    assert ship_to["required"] == ["street", "city"]
    fallback = schema["properties"]["fallback"]
    assert fallback["anyOf"][0]["properties"]["city"] == {"type": "string"}
    assert fallback["anyOf"][1] == {"type": "null"}


def test_recursive_models_keep_consistent_defs() -> None:
    schema = recursive.parameters
    assert schema["properties"]["tree"] == {"$ref": "#/$defs/TreeNode"}
    node = schema["$defs"]["TreeNode"]
    assert node["properties"]["children"]["items"] == {"$ref": "#/$defs/TreeNode"}
    assert set(schema["$defs"]) == {"TreeNode"}


def test_annotated_field_descriptions_and_constraints() -> None:
    props = annotated.parameters["properties"]
    assert props["query"] == {"type": "string", "description": "What to look for", "minLength": 1}
    assert props["limit"] == {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}
    assert annotated.parameters["required"] == ["query"]


def test_discriminated_union_has_no_dangling_mapping() -> None:
    pet = union_pets.parameters["properties"]["pet"]
    assert "discriminator" not in pet
    variants = pet["oneOf"]
    assert [v["properties"]["kind"]["const"] for v in variants] == ["cat", "dog"]
    assert "$defs" not in union_pets.parameters


def test_parameter_names_that_shadow_basemodel_attributes() -> None:
    schema = shadowing.parameters
    assert list(schema["properties"]) == ["json", "schema", "model_config", "copy"]
    assert schema["required"] == ["json"]


def test_no_parameters() -> None:
    assert no_params.parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_context_parameters_are_not_in_the_schema() -> None:
    schema = with_context.parameters
    assert list(schema["properties"]) == ["city"]
    assert schema["required"] == ["city"]


def test_docstring_summary_and_google_args() -> None:
    assert documented.description == "Get the weather forecast for a city."
    props = documented.parameters["properties"]
    assert props["city"]["description"] == 'The city name, for example "Paris".'
    assert props["unit"]["description"] == "Temperature unit."
    assert props["days"]["description"] == "How many days ahead."


def test_sphinx_param_fields() -> None:
    assert sphinx_documented.description == "Look up a city."
    props = sphinx_documented.parameters["properties"]
    assert props["city"]["description"] == "The city to look up."
    assert props["days"]["description"] == "Days ahead."


def test_field_description_wins_over_docstring() -> None:
    props = precedence.parameters["properties"]
    assert props["note"]["description"] == "From Field"
    assert props["other"]["description"] == "Other from the docstring."


def test_no_docstring_gives_empty_description() -> None:
    assert primitives.description == ""


def test_options_override_name_description_timeout() -> None:
    @tool(name="lookup_city", description="Custom description.", timeout=5)
    def find(city: str) -> str:
        """Docstring summary."""
        return city

    assert find.name == "lookup_city"
    assert find.description == "Custom description."
    assert find.timeout == 5.0
    assert documented.timeout == DEFAULT_TOOL_TIMEOUT == 30.0


def test_bare_and_called_decorator_on_async_functions() -> None:
    @tool
    async def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    @tool()
    async def fetch2(url: str) -> str:
        return url

    assert isinstance(fetch, Tool) and isinstance(fetch2, Tool)
    assert fetch.name == "fetch" and fetch.description == "Fetch a page."
    assert fetch2.parameters["required"] == ["url"]


def test_definition_is_a_tool_definition_and_a_copy() -> None:
    definition = documented.definition
    assert isinstance(definition, ToolDefinition)
    assert definition.name == "documented"
    assert definition.description == documented.description
    assert definition.parameters == documented.parameters
    definition.parameters["properties"].clear()
    documented.parameters["properties"]["x"] = {}
    assert list(documented.parameters["properties"]) == ["city", "unit", "days"]


def test_decorated_functions_stay_directly_callable() -> None:
    assert defaults("Oslo") == "Oslo"
    assert shadowing(json="a") == "a"
    # functools.update_wrapper: introspection sees the wrapped function.
    assert inspect.signature(documented) == inspect.signature(documented.func)
    assert documented.__doc__ == documented.func.__doc__


async def test_decorated_async_functions_stay_directly_awaitable() -> None:
    @tool
    async def double(x: int) -> int:
        return 2 * x

    assert await double(21) == 42


def test_variadic_parameters_are_rejected() -> None:
    def variadic(*args: int) -> None: ...

    def kwvariadic(**kwargs: int) -> None: ...

    for fn in (variadic, kwvariadic):
        with pytest.raises(ConfigurationError, match="declare each parameter"):
            tool(fn)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("has space", "invalid tool name"), ("x" * 65, "invalid tool name"), ("", "invalid")],
)
def test_invalid_names_are_rejected(name: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        tool(lambda: None, name=name)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ConfigurationError, match="pass name="):
        tool(lambda: None)
    assert tool(lambda: None, name="noop").name == "noop"


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True, "5"])
def test_invalid_timeouts_are_rejected(timeout: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        tool(timeout=timeout)(primitives.func)


def test_timeout_none_means_unlimited() -> None:
    assert tool(timeout=None)(primitives.func).timeout is None


def test_generators_are_rejected() -> None:
    def gen() -> Any:
        yield 1

    async def agen() -> Any:
        yield 1

    for fn in (gen, agen):
        with pytest.raises(ConfigurationError, match="generator"):
            tool(fn)


class Opaque:
    pass


def test_types_without_schema_are_a_configuration_error() -> None:
    def bad(thing: Opaque) -> None: ...

    with pytest.raises(ConfigurationError, match="'bad'"):
        tool(bad)


def test_unresolvable_hints_are_a_configuration_error() -> None:
    def bad(thing: "NotDefinedAnywhere") -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(ConfigurationError, match="type hints"):
        tool(bad)


def test_retooling_a_tool_applies_options_to_a_copy() -> None:
    renamed = tool(documented, name="forecast")
    assert renamed.name == "forecast"
    assert documented.name == "documented"
    assert renamed.parameters == documented.parameters
