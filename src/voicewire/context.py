"""The per-session context handed to instructions callables and tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic

from typing_extensions import TypeVar

TData = TypeVar("TData", default=Any)


@dataclass
class Context(Generic[TData]):
    """What a tool or an instructions callable knows about the session it runs in.

    ``data`` is the application's own state (whatever the session was given; ``None`` if nothing).
    A tool gets it by declaring a parameter annotated ``Context`` or ``Context[MyState]``; that
    parameter is injected at call time and never shown to the model. The object is shared by every
    call in a session, so tools may keep notes in ``data`` or ``metadata`` for later calls.
    """

    data: TData = None  # type: ignore[assignment]
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
