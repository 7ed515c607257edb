"""Errors raised while defining or running tools.

Their messages are meant to be readable by the model as well as by people: a session typically
sends ``str(error)`` back as the tool's output so the model can correct itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..protocol.errors import RealtimeError


class ToolError(RealtimeError):
    """Base class of every tool failure. A tool may raise it itself to report a failure with a
    message of its own; it is then passed through unchanged (with ``tool_name`` filled in)."""

    code = "tool_error"

    def __init__(
        self, message: str, *, tool_name: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.tool_name = tool_name


class ToolArgumentsError(ToolError, ValueError):
    """The model's arguments were not valid JSON, not an object, or failed validation.

    ``fields`` names the offending parameters (dotted paths for nested values, ``""`` when the
    problem is the arguments as a whole).
    """

    code = "tool_arguments_invalid"

    def __init__(self, message: str, *, tool_name: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message, tool_name=tool_name)
        self.fields = tuple(fields)


class ToolExecutionError(ToolError):
    """The tool's function raised; the original exception is ``original`` (and ``__cause__``)."""

    code = "tool_execution_failed"

    def __init__(self, message: str, *, tool_name: str, original: BaseException) -> None:
        super().__init__(message, tool_name=tool_name)
        self.original = original


class ToolTimeoutError(ToolError, TimeoutError):
    """The tool took longer than its ``timeout``.

    A sync tool's thread cannot be killed: it keeps running in the background and its result is
    dropped.
    """

    code = "tool_timeout"

    def __init__(self, message: str, *, tool_name: str, timeout: float) -> None:
        super().__init__(message, tool_name=tool_name)
        self.timeout = timeout


class UnknownToolError(ToolError, LookupError):
    """The model called a tool the agent does not have."""

    code = "unknown_tool"

    def __init__(self, tool_name: str, available: Iterable[str] = ()) -> None:
        names = sorted(available)
        known = ", ".join(repr(n) for n in names) if names else "none"
        super().__init__(
            f"Unknown tool {tool_name!r}; available tools: {known}", tool_name=tool_name
        )
        self.available = tuple(names)
