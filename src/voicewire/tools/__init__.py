"""Tools: Python functions a realtime model can call, grouped in toolkits."""

from .errors import (
    ToolArgumentsError,
    ToolError,
    ToolExecutionError,
    ToolTimeoutError,
    UnknownToolError,
)
from .tool import DEFAULT_TOOL_TIMEOUT, Tool, as_tool, tool, validate_tool_name
from .toolkit import Toolkit

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Tool",
    "ToolArgumentsError",
    "ToolError",
    "ToolExecutionError",
    "ToolTimeoutError",
    "Toolkit",
    "UnknownToolError",
    "as_tool",
    "tool",
    "validate_tool_name",
]
