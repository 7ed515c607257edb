"""What the parts of one local session share: the engines, the settings in force, the
conversation, and the ways out (events, background tasks, benchmark timings).

The connection owns it and updates ``config`` and ``output_format`` on ``session.update``; the
turn taker (:mod:`.turns`) and the responder (:mod:`.responder`) read them when they act.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from ...protocol import AudioFormat, ResponseConfig, ServerEvent, SessionConfig, TurnDetection
from . import smart_turn
from .conversation import LocalConversation
from .engines import Engines
from .options import DEFAULT_FORMAT, DEFAULT_INSTRUCTIONS, LocalOptions


@dataclass(eq=False)
class SessionState:
    engines: Engines
    options: LocalOptions
    loop: asyncio.AbstractEventLoop
    emit: Callable[[ServerEvent], None]
    """Send a server event to the client (nothing once the connection is closed)."""
    spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]
    """Run a background task the connection cancels when it closes."""
    connected: Callable[[], bool]
    conversation: LocalConversation = field(default_factory=LocalConversation)
    config: SessionConfig = field(default_factory=SessionConfig)
    output_format: AudioFormat = DEFAULT_FORMAT
    timings: dict[str, float] = field(default_factory=dict)
    """Monotonic times of the latest turn's milestones (for benchmarks)."""

    def turn_detection(self) -> TurnDetection:
        if self.config.turn_detection is not None:
            return self.config.turn_detection
        return default_turn_detection(self.options)

    def instructions(self, config: ResponseConfig | None) -> str:
        if config is not None and config.instructions:
            return config.instructions
        return self.config.instructions or DEFAULT_INSTRUCTIONS


def default_turn_mode(options: LocalOptions) -> Literal["server_vad", "semantic_vad"]:
    """How a session that names no turn detection ends turns: ``options.default_turn_detection``,
    or ``semantic_vad`` when Smart Turn is installed, else ``server_vad``."""
    if options.default_turn_detection is not None:
        return options.default_turn_detection
    return "semantic_vad" if smart_turn.available() else "server_vad"


def default_turn_detection(options: LocalOptions) -> TurnDetection:
    """The turn detection of a session that names none (:func:`default_turn_mode`)."""
    mode = default_turn_mode(options)
    if mode == "semantic_vad":
        return TurnDetection(mode)  # a fixed silence is server_vad's alone (the cap is eagerness's)
    return TurnDetection(mode, silence_duration_ms=options.silence_duration_ms)
