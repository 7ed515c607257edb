"""``RealtimeAgent``: who the model is in a session — instructions, tools and voice."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from .context import Context
from .protocol import RealtimeModel
from .protocol.config import ToolDefinition, VoiceConfig
from .protocol.errors import ConfigurationError
from .tools import Tool, Toolkit, as_tool

Instructions = str | Callable[[Context[Any]], str | Awaitable[str]]
"""Fixed text, or a function of the session's context (sync or async) computed per session."""

_VOICE_FIELDS = tuple(f.name for f in dataclasses.fields(VoiceConfig))


def _voice_config(voice: VoiceConfig | Mapping[str, Any] | None) -> VoiceConfig | None:
    if voice is None or isinstance(voice, VoiceConfig):
        return voice
    if not isinstance(voice, Mapping):
        raise ConfigurationError(
            f"voice must be a VoiceConfig or a mapping, got {type(voice).__name__}"
        )
    unknown = sorted(str(k) for k in voice if k not in _VOICE_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"unknown voice option(s) {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(map(repr, _VOICE_FIELDS))}"
        )
    voice_id = voice.get("voice_id")
    if voice_id is not None and not isinstance(voice_id, str):
        raise ConfigurationError(f"voice_id must be a string, got {voice_id!r}")
    speed = voice.get("speed")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float)):
        raise ConfigurationError(f"voice speed must be a number, got {speed!r}")
    return VoiceConfig(voice_id=voice_id, speed=None if speed is None else float(speed))


class RealtimeAgent:
    """A voice agent: instructions, tools (loose or in toolkits), a voice and optionally a model.

    Everything is checked at construction: tool names must be unique across ``tools`` and all
    ``toolkits`` (the model calls tools by name alone), and ``voice`` may be given as a plain
    mapping such as ``{"voice_id": "marin", "speed": 1.1}``.
    """

    def __init__(
        self,
        id: str,
        name: str,
        instructions: Instructions,
        tools: Iterable[Tool[..., Any] | Callable[..., Any]] = (),
        toolkits: Iterable[Toolkit] = (),
        voice: VoiceConfig | Mapping[str, Any] | None = None,
        model: RealtimeModel | None = None,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise ConfigurationError(f"agent id must be a non-empty string, got {id!r}")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"agent {id!r}: name must be a non-empty string")
        if not isinstance(instructions, str) and not callable(instructions):
            raise ConfigurationError(
                f"agent {id!r}: instructions must be a string or a callable, "
                f"got {type(instructions).__name__}"
            )
        self.id = id
        self.name = name
        self.instructions = instructions
        self.voice = _voice_config(voice)
        self.model = model

        own: list[Tool[..., Any]] = []
        for item in tools:
            if isinstance(item, Toolkit):
                raise ConfigurationError(
                    f"agent {id!r}: toolkit {item.label} was passed in tools; use toolkits=..."
                )
            own.append(as_tool(item))
        self._toolkits = tuple(toolkits)
        for kit in self._toolkits:
            if not isinstance(kit, Toolkit):
                raise ConfigurationError(f"agent {id!r}: expected a Toolkit, got {kit!r}")

        origins: dict[str, list[str]] = {}
        for t in own:
            origins.setdefault(t.name, []).append("tools")
        for kit in self._toolkits:
            for t in kit:
                origins.setdefault(t.name, []).append(f"toolkit {kit.label}")
        clashes = {n: where for n, where in origins.items() if len(where) > 1}
        if clashes:
            detail = "; ".join(f"{n!r} (in {', '.join(w)})" for n, w in sorted(clashes.items()))
            raise ConfigurationError(f"agent {id!r} has duplicate tool names: {detail}")

        self._tools: tuple[Tool[..., Any], ...] = (
            *own,
            *(t for kit in self._toolkits for t in kit),
        )
        self._by_name = {t.name: t for t in self._tools}

    @property
    def tools(self) -> tuple[Tool[..., Any], ...]:
        """Every tool: the agent's own first, then each toolkit's, in the order given."""
        return self._tools

    @property
    def toolkits(self) -> tuple[Toolkit, ...]:
        return self._toolkits

    def get_tool(self, name: str) -> Tool[..., Any] | None:
        return self._by_name.get(name)

    def tool_definitions(self) -> list[ToolDefinition]:
        return [t.definition for t in self._tools]

    async def resolve_instructions(self, ctx: Context[Any] | None = None) -> str:
        """The instructions for this session: the string, or the callable's (awaited) result."""
        if isinstance(self.instructions, str):
            return self.instructions
        result = self.instructions(ctx if ctx is not None else Context())
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, str):
            raise ConfigurationError(
                f"agent {self.id!r}: instructions callable returned "
                f"{type(result).__name__}, expected str"
            )
        return result

    def __repr__(self) -> str:
        names: Sequence[str] = [t.name for t in self._tools]
        return f"RealtimeAgent(id={self.id!r}, name={self.name!r}, tools={list(names)!r})"
