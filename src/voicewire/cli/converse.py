"""``voicewire converse IN.wav --out OUT.wav``: one spoken turn, offline, file to file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..agent import RealtimeAgent
from ..channels import WavChannel
from ..protocol import ConnectOptions, ProtocolError, RealtimeModel
from ..session import RealtimeSession, SessionEvent
from .models import session_config_for


@dataclass
class Turn:
    heard: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reply_ms: float = 0.0


async def converse(
    agent: RealtimeAgent,
    model: RealtimeModel,
    in_path: Path,
    out_path: Path,
    *,
    reply_timeout_s: float = 120.0,
    on_event: Callable[[SessionEvent], None] | None = None,
) -> Turn:
    """Play ``in_path`` to the agent, record the reply to ``out_path``, return both transcripts.

    The turn is over at the first response that ends after the assistant said something (a
    response that only called a tool is followed by the spoken one).
    """
    channel = WavChannel(in_path, out_path, realtime=False)
    turn = Turn()
    options = ConnectOptions(session_config=session_config_for(model, agent))
    session = RealtimeSession(agent, model=model, channel=channel, connect_options=options)
    async with session:
        try:
            await asyncio.wait_for(_collect(session, turn, on_event), reply_timeout_s)
        except TimeoutError:
            raise ProtocolError(f"no complete reply within {reply_timeout_s:.0f} s") from None
    turn.reply_ms = channel.reply_ms
    return turn


async def _collect(
    session: RealtimeSession, turn: Turn, on_event: Callable[[SessionEvent], None] | None
) -> None:
    async for event in session:
        if on_event is not None:
            on_event(event)
        _note(event, turn)
        if event.kind == "response.done" and turn.said:
            return


def _note(event: SessionEvent, turn: Turn) -> None:
    if event.kind == "transcript.input":
        turn.heard.append(event.text)
    elif event.kind in ("transcript.output", "text.output"):
        turn.said.append(event.text)
    elif event.kind == "session.error":
        turn.errors.append(f"{event.code}: {event.message}")
