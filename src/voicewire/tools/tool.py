"""``Tool``: a Python function the model can call, and the ``@tool`` decorator that makes one."""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from ..context import Context
from ..protocol.config import ToolDefinition
from ..protocol.errors import ConfigurationError
from ._docstrings import parse_docstring
from ._schema import build_arguments_model, parameters_schema
from .errors import ToolArgumentsError, ToolError, ToolExecutionError, ToolTimeoutError

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TOOL_TIMEOUT = 30.0
"""Seconds a tool may run before :class:`ToolTimeoutError`; a voice user is waiting meanwhile."""

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Names every provider accepts (OpenAI's rule; Gemini allows a superset)."""

_UNSET: Any = object()


def validate_tool_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigurationError(
            f"invalid tool name {name!r}: use 1-64 letters, digits, '_' or '-'"
            + (" (pass name=... for lambdas and partials)" if name == "<lambda>" else "")
        )
    return name


def _validate_timeout(timeout: object, name: str) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(
            f"tool {name!r}: timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    return float(timeout)


def _doc_target(func: Callable[..., Any]) -> Any:
    # A partial's own docstring describes functools.partial, not the tool.
    return func.func if isinstance(func, functools.partial) else func


def _is_async_callable(func: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - async __call__ on an instance
    return call is not None and inspect.iscoroutinefunction(call)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Tool(Generic[P, R]):
    """A function the model can call.

    The JSON schema of its parameters is derived once, at construction, from the type hints
    (through a pydantic model) and the docstring; parameters annotated :class:`Context` are
    injected by :meth:`invoke` and hidden from the model. Calling the ``Tool`` directly calls the
    function unchanged.
    """

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        if not callable(func):
            raise ConfigurationError(f"a tool must wrap a callable, got {func!r}")
        self._name = validate_tool_name(
            name if name is not None else getattr(func, "__name__", None)
        )
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise ConfigurationError(
                f"tool {self._name!r} is a generator; tools must return a single value"
            )
        doc = parse_docstring(inspect.getdoc(_doc_target(func)))
        self._description = description if description is not None else doc.summary
        self._timeout = _validate_timeout(timeout, self._name)
        self._func = func
        self._call: Callable[..., Any] = func
        self._is_async = _is_async_callable(func)
        self._model, self._plan = build_arguments_model(func, self._name, doc.params)
        self._schema = parameters_schema(self._model, self._name)
        functools.update_wrapper(self, func, updated=())

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    @property
    def timeout(self) -> float | None:
        """Seconds allowed per call; ``None`` means no limit."""
        return self._timeout

    @property
    def func(self) -> Callable[P, R]:
        return self._func

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (a fresh copy: callers may mutate it)."""
        return copy.deepcopy(self._schema)

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(self._name, self._description, self.parameters)

    def with_options(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = _UNSET,
    ) -> Tool[P, R]:
        """A copy with a new name, description and/or timeout (the schema is shared)."""
        clone = copy.copy(self)
        if name is not None:
            clone._name = validate_tool_name(name)
        if description is not None:
            clone._description = description
        if timeout is not _UNSET:
            clone._timeout = _validate_timeout(timeout, clone._name)
        return clone

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool(name={self._name!r}, timeout={self._timeout!r})"

    async def invoke(self, ctx: Context[Any], arguments: str | Mapping[str, Any]) -> str:
        """Run the tool for a model's call and return its output as text.

        ``arguments`` is the JSON text the model produced (an already-parsed mapping is accepted
        too). Raises :class:`ToolArgumentsError`, :class:`ToolExecutionError` or
        :class:`ToolTimeoutError`; cancellation propagates untouched.
        """
        values = self._validate(arguments)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._plan:
            value = ctx if param.field is None else getattr(values, param.field)
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
        return self._serialize(await self._execute(args, kwargs))

    def _validate(self, arguments: str | Mapping[str, Any]) -> BaseModel:
        data: Any
        if isinstance(arguments, Mapping):
            data = dict(arguments)
        elif not arguments.strip():
            data = {}  # some models send "" for a call without arguments
        else:
            try:
                data = json.loads(arguments)
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(
                    f"Invalid arguments for tool {self._name!r}: not valid JSON ({exc})",
                    tool_name=self._name,
                ) from exc
        if not isinstance(data, dict):
            raise ToolArgumentsError(
                f"Invalid arguments for tool {self._name!r}: expected a JSON object, "
                f"got {type(data).__name__} {_short_repr(data)}",
                tool_name=self._name,
            )
        try:
            return self._model.model_validate(data)
        except ValidationError as exc:
            fields: list[str] = []
            details: list[str] = []
            for error in exc.errors(include_url=False):
                where = ".".join(str(part) for part in error["loc"])
                fields.append(where)
                detail = f"{where or '<arguments>'}: {error['msg']}"
                if error["type"] not in ("missing", "extra_forbidden"):
                    detail += f" (got {_short_repr(error['input'])})"
                details.append(detail)
            raise ToolArgumentsError(
                f"Invalid arguments for tool {self._name!r}: " + "; ".join(details),
                tool_name=self._name,
                fields=fields,
            ) from exc

    async def _execute(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        scope = asyncio.timeout(self._timeout)
        try:
            async with scope:
                if self._is_async:
                    result = await self._call(*args, **kwargs)
                else:
                    # A thread keeps blocking work (requests, file I/O) off the event loop, which
                    # is busy streaming audio.
                    result = await asyncio.to_thread(self._call, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
        except ToolError as exc:
            if exc.tool_name is None:
                exc.tool_name = self._name
            raise
        except TimeoutError as exc:
            if scope.expired():
                raise ToolTimeoutError(
                    f"Tool {self._name!r} timed out after {self._timeout:g} s",
                    tool_name=self._name,
                    timeout=self._timeout or 0.0,
                ) from None
            raise self._failed(exc) from exc
        except Exception as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: Exception) -> ToolExecutionError:
        kind = type(exc).__name__
        text = str(exc)
        return ToolExecutionError(
            f"Tool {self._name!r} failed: {kind}: {text}"
            if text
            else f"Tool {self._name!r} failed: {kind}",
            tool_name=self._name,
            original=exc,
        )

    def _serialize(self, result: Any) -> str:
        if isinstance(result, str):
            return result
        try:
            return to_json(result, fallback=str).decode()
        except Exception as exc:
            raise ToolExecutionError(
                f"Tool {self._name!r} returned a {type(result).__name__} that cannot be "
                f"serialized: {exc}",
                tool_name=self._name,
                original=exc,
            ) from exc


def as_tool(obj: Tool[..., Any] | Callable[..., Any]) -> Tool[..., Any]:
    """``obj`` itself if it is a :class:`Tool`, else ``tool(obj)`` with the default options."""
    if isinstance(obj, Tool):
        return obj
    if not callable(obj):
        raise ConfigurationError(f"expected a Tool or a function, got {type(obj).__name__} {obj!r}")
    return Tool(obj)


@overload
def tool(
    func: Callable[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
) -> Tool[P, R]: ...


@overload
def tool(
    func: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function (sync or async) a :class:`Tool`: ``@tool`` or ``@tool(name=..., ...)``.

    The description defaults to the docstring's first paragraph; its parameter entries (Google
    ``Args:``, Sphinx ``:param x:`` or a NumPy ``Parameters`` section) describe the parameters
    unless ``Annotated[x, Field(description=...)]`` already does.
    """

    def wrap(fn: Callable[P, R]) -> Tool[P, R]:
        if isinstance(fn, Tool):
            return fn.with_options(name=name, description=description, timeout=timeout)
        return Tool(fn, name=name, description=description, timeout=timeout)

    return wrap if func is None else wrap(func)
