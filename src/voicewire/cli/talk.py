"""``voicewire talk``: a voice conversation in the terminal through the sound card."""

from __future__ import annotations

import asyncio
import contextlib

from rich.console import Group
from rich.live import Live
from rich.text import Text

from ..agent import RealtimeAgent
from ..channels.device import DeviceChannel
from ..protocol import ConnectOptions, RealtimeModel
from ..session import RealtimeSession, SessionEvent
from .models import session_config_for

METER_WIDTH = 30
MAX_LINES = 12


class TalkView:
    """What the terminal shows: status, agent state, a level meter and the last lines said."""

    def __init__(self) -> None:
        self.status = "connecting"
        self.state = "listening"
        self.lines: list[Text] = []

    def note(self, event: SessionEvent) -> None:
        if event.kind == "status.changed":
            self.status = str(event.status)
        elif event.kind == "speech.started":
            self.state = "listening"
        elif event.kind == "response.created":
            self.state = "thinking"
        elif event.kind == "audio.output.delta":
            self.state = "speaking"
        elif event.kind == "response.done":
            self.state = "listening"
        elif event.kind == "transcript.input":
            self._add("you", event.text, "cyan")
        elif event.kind in ("transcript.output", "text.output"):
            self._add("agent", event.text, "green")
        elif event.kind == "session.error":
            self._add("error", event.message, "red")

    def _add(self, who: str, text: str, style: str) -> None:
        line = Text(f"{who}: ", style=f"bold {style}")
        line.append(text)
        self.lines = [*self.lines[-(MAX_LINES - 1) :], line]

    def render(self, level: float) -> Group:
        filled = min(METER_WIDTH, int(level * 4 * METER_WIDTH))
        meter = Text("mic ")
        meter.append("█" * filled, style="green")
        meter.append("·" * (METER_WIDTH - filled), style="dim")
        header = Text(f"{self.status} · {self.state}  (Ctrl-C to end)", style="bold")
        return Group(header, meter, *self.lines)


async def talk(agent: RealtimeAgent, model: RealtimeModel, channel: DeviceChannel) -> None:
    view = TalkView()
    options = ConnectOptions(session_config=session_config_for(model, agent))
    session = RealtimeSession(agent, model=model, channel=channel, connect_options=options)
    session.on("*", view.note)
    with Live(view.render(0.0), refresh_per_second=12, transient=False) as live:
        async with session:
            with contextlib.suppress(asyncio.CancelledError):
                while True:
                    live.update(view.render(channel.input_level))
                    await asyncio.sleep(1 / 12)
