"""What the fake ElevenLabs server keeps per conversation: frames, turns, pings, tool calls.

Kept apart from the server so that the handlers (:mod:`.turns`) and the server loop
(:mod:`.server`) share one plain record, and a test can read any connection's history through
:attr:`FakeElevenLabsServer.connections` after it closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection

from ..energy_vad import EnergyVad
from ..responder import ResponseRun
from ..script import ToolCallReply
from .agent import AgentConfig

__all__ = ["AgentTurn", "Conversation", "Event", "PingRecord"]

Event = dict[str, Any]
"""A client or server message as JSON."""


@dataclass(eq=False)
class PingRecord:
    """One ``ping`` the server sent and what became of it.

    Attributes:
        event_id: the ping's ``event_id`` (a pong must echo it).
        conversation_id: the conversation it was sent on.
        sent_at: the event loop's clock when it was sent.
        answered: a matching ``pong`` arrived.
        latency_ms: time from ping to pong, once answered.
    """

    event_id: int
    conversation_id: str
    sent_at: float
    answered: bool = False
    latency_ms: float | None = None


@dataclass(eq=False)
class AgentTurn:
    """One agent reply in progress.

    Attributes:
        event_id: the id every message of this turn carries (its audio, text and correction).
        run: the cancel signal (an interruption) and pacing.
        original: the whole reply text, as announced by ``agent_response``.
        said: the text that went out with the audio (or as text deltas) so far.
        announced: ``agent_response`` was sent, so a cut needs a correction.
        entry: the turn's conversation entry, corrected in place on a cut.
    """

    event_id: int
    run: ResponseRun
    original: str = ""
    said: str = ""
    announced: bool = False
    entry: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()


@dataclass(eq=False)
class Conversation:
    """One WebSocket conversation.

    Attributes:
        ws: the socket.
        conversation_id: the id announced in ``conversation_initiation_metadata``.
        agent: the agent configuration in force (after the client's overrides).
        received: parsed client messages, in order.
        sent: server messages, in order.
        history: the conversation as the agent understood it (see
            :attr:`FakeElevenLabsServer.conversation`).
        initiation: the ``conversation_initiation_client_data`` the client sent, if any.
        input_audio: user audio as PCM16 at the input format's rate.
        event_id: the latest turn id handed out.
        user_turn_id: the id of the user turn being spoken (speech started, not ended).
        agent_turn: the agent's reply in progress, if any.
        calls: client tool calls by ``tool_call_id``.
        tool_results: futures the agent turns wait on, by ``tool_call_id``.
        pings: the pings sent on this conversation.
        user_activity: ``user_activity`` messages received.
        close_code: how the server closed it, when it did.
    """

    ws: ServerConnection
    conversation_id: str
    agent: AgentConfig
    received: list[Event] = field(default_factory=list)
    sent: list[Event] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    initiation: Event | None = None
    started: bool = False
    input_audio: bytearray = field(default_factory=bytearray)
    vad: EnergyVad = field(default_factory=EnergyVad)
    vad_score: float | None = None
    event_id: int = 0
    user_turn_id: int | None = None
    agent_turn: AgentTurn | None = None
    calls: dict[str, ToolCallReply] = field(default_factory=dict)
    tool_results: dict[str, asyncio.Future[Event]] = field(default_factory=dict)
    pings: list[PingRecord] = field(default_factory=list)
    ping_ids: int = 0
    user_activity: int = 0
    closed: bool = False
    close_code: int | None = None

    def next_event_id(self) -> int:
        """A new turn id: each user turn (spoken or typed) and the first message get one, and
        the agent's reply to a turn carries the same id."""
        self.event_id += 1
        return self.event_id

    def last_latency_ms(self) -> int | None:
        """The latest measured ping latency, rounded (``ping_ms`` of the next ping)."""
        for ping in reversed(self.pings):
            if ping.latency_ms is not None:
                return round(ping.latency_ms)
        return None
