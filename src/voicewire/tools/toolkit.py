"""``Toolkit``: a named group of tools, optionally namespaced with a prefix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..protocol.errors import ConfigurationError
from .tool import Tool, as_tool, validate_tool_name


class Toolkit:
    """Tools that belong together (one integration, one backend).

    With ``prefix``, each tool is exposed as ``{prefix}_{name}``, so two toolkits may both offer
    ``search`` without colliding. The original tools are left untouched; the toolkit holds
    renamed copies.
    """

    def __init__(
        self,
        tools: Iterable[Tool[..., Any] | Callable[..., Any]],
        *,
        id: str | None = None,
        prefix: str | None = None,
    ) -> None:
        if prefix is not None:
            validate_tool_name(prefix)
        self._id = id
        self._prefix = prefix
        wrapped = [as_tool(t) for t in tools]
        if prefix is not None:
            wrapped = [t.with_options(name=f"{prefix}_{t.name}") for t in wrapped]
        duplicates = sorted(n for n, c in Counter(t.name for t in wrapped).items() if c > 1)
        if duplicates:
            raise ConfigurationError(
                f"toolkit {self.label} has duplicate tool names: {', '.join(map(repr, duplicates))}"
            )
        self._tools = tuple(wrapped)
        self._by_name = {t.name: t for t in self._tools}

    @property
    def id(self) -> str | None:
        return self._id

    @property
    def prefix(self) -> str | None:
        return self._prefix

    @property
    def tools(self) -> tuple[Tool[..., Any], ...]:
        """The tools as the model sees them (prefixed names)."""
        return self._tools

    @property
    def label(self) -> str:
        """How messages refer to this toolkit."""
        return repr(self._id or self._prefix or "<unnamed>")

    def get_tool(self, name: str) -> Tool[..., Any] | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Tool[..., Any]]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        names = ", ".join(t.name for t in self._tools)
        return f"Toolkit(id={self._id!r}, prefix={self._prefix!r}, tools=[{names}])"
