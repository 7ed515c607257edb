"""Events the session adds to the model's neutral server events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ..protocol import ServerEvent, TransportStatus


@dataclass(frozen=True, slots=True)
class StatusChanged:
    status: TransportStatus
    kind: ClassVar[Literal["status.changed"]] = "status.changed"


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool finished (or failed); ``output`` is exactly what the model was sent."""

    call_id: str
    name: str
    output: str
    is_error: bool = False
    kind: ClassVar[Literal["tool.output"]] = "tool.output"


SessionEvent = ServerEvent | StatusChanged | ToolOutput

ALIASES: dict[str, tuple[str, ...]] = {
    "transcript": ("transcript.input", "transcript.output"),
    "audio": ("audio.output.delta",),
    "text": ("text.output",),
    "error": ("session.error",),
    "status": ("status.changed",),
    "tool": ("tool.call", "tool.output"),
    "interrupted": ("response.interrupted",),
}
"""Short names accepted by :meth:`RealtimeSession.on` besides every event ``kind``."""
