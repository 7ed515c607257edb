"""What the fake Gemini Live server remembers: sessions that outlive their sockets, the sockets,
and the small wire helpers every part shares.

A Gemini *session* is a conversation; a *link* is one WebSocket carrying it. Session resumption
moves a session to a new link, so everything a test asks about a conversation (its turns, the
audio the user sent, the handles issued) lives on :class:`GeminiSession`, and everything about one
socket (what it received, its voice detector, the model turn it is streaming) on
:class:`GeminiLink`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection

from ..energy_vad import EnergyVad
from ..responder import ResponseRun
from ..script import ToolCallReply

__all__ = [
    "GeminiLink",
    "GeminiSession",
    "ModelTurn",
    "get_field",
    "parse_duration",
]

Frame = dict[str, Any]
"""A client or server frame as JSON."""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def get_field(body: Mapping[str, Any] | None, camel: str) -> Any:
    """``body[camel]``, or its snake_case spelling: Google's parser takes both, and the
    google-genai SDK sends both."""
    if not isinstance(body, Mapping):
        return None
    if camel in body:
        return body[camel]
    return body.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


def parse_duration(text: str) -> float:
    """Seconds in a protobuf Duration string such as ``"2s"`` or ``"0.5s"``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a protobuf Duration string: {text!r} (expected e.g. '2s')")
    return float(match.group(1))


@dataclass(eq=False)
class ModelTurn:
    """The model's turn in progress on one link (from the first content to ``turnComplete``).

    ``run`` streams the current reply; ``pending_calls`` are function call ids the turn waits on.
    """

    run: ResponseRun
    pending_calls: dict[str, ToolCallReply] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    tail: str = ""
    audio_ms: float = 0.0


@dataclass(eq=False)
class GeminiSession:
    """One conversation, kept across resumptions.

    Attributes:
        id: the session id (``setupComplete.sessionId``).
        model: the ``setup.model`` it was opened with (``models/<id>``).
        setup: the latest setup (from the latest link), as the client sent it.
        turns: the conversation as Gemini ``Content`` objects (user audio recorded as the text
            the fake heard); a model turn is added when it completes or is interrupted, with
            only what was said.
        input_audio: the input audio the session holds, over all its links: what arrived after
            the handle a resumption named is dropped, as the real session's state is the
            handle's, so audio a client sent once arrives here exactly once.
        audio_frames: the ``realtimeInput.audio`` payloads behind :attr:`input_audio`, decoded,
            in arrival order (each link's :attr:`GeminiLink.received` keeps every frame).
        handles: every resumption handle issued, oldest first.
        links: the links the session has had, oldest first.
        token: the ephemeral token that opened it, if any.
    """

    id: str
    model: str
    setup: Frame
    turns: list[Frame] = field(default_factory=list)
    input_audio: bytearray = field(default_factory=bytearray)
    audio_frames: list[bytes] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)
    links: list[GeminiLink] = field(default_factory=list)
    token: str | None = None
    calls: dict[str, ToolCallReply] = field(default_factory=dict)
    seeded: bool = False

    def mark(self) -> tuple[int, int]:
        """Where the session's state is now (what a handle issued now restores)."""
        return len(self.turns), len(self.audio_frames)

    def restore(self, mark: tuple[int, int]) -> None:
        """Go back to the state at ``mark``: what came after it is not in the session any more
        (a client resuming from an older handle must send it again)."""
        turns, frames = mark
        del self.turns[turns:]
        del self.audio_frames[frames:]
        self.input_audio = bytearray(b"".join(self.audio_frames))

    @property
    def live_link(self) -> GeminiLink | None:
        """The link currently carrying the session, if one is open."""
        for link in reversed(self.links):
            if not link.closed or link.lingers_until > time.monotonic():
                return link
        return None

    def latest_user_text(self) -> str | None:
        """The text of the latest user turn, for choosing the scripted reply."""
        for turn in reversed(self.turns):
            if turn.get("role") != "user":
                continue
            texts = [
                str(part["text"])
                for part in turn.get("parts") or []
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            ]
            if texts:
                return " ".join(texts)
        return None


@dataclass(eq=False)
class GeminiLink:
    """One WebSocket: its frames, its voice detector and the model turn it streams.

    Attributes:
        index: the link's number on the server, from 0.
        path: the request path (with the query string).
        received: every parsed client frame on this socket, in order.
        casing: field names that were not camelCase, per frame (empty entries omitted).
        session: the session it carries, once ``setup`` arrived.
        resumed_from: the handle ``setup.sessionResumption.handle`` named, if any.
        lingers_until: after a drop, the ``time.monotonic()`` until which the server still
            takes the socket for open (it has not noticed the drop yet).
    """

    ws: ServerConnection
    index: int
    path: str
    received: list[Frame] = field(default_factory=list)
    casing: list[str] = field(default_factory=list)
    session: GeminiSession | None = None
    resumed_from: str | None = None
    token: str | None = None
    vad: EnergyVad = field(default_factory=EnergyVad)
    in_activity: bool = False
    activity_ms: float = 0.0
    turn: ModelTurn | None = None
    realtime_started: bool = False
    closed: bool = False
    lingers_until: float = 0.0
    deadline: asyncio.TimerHandle | None = None
    outbox: asyncio.Queue[tuple[float, str | bytes]] | None = None
    writer: asyncio.Task[None] | None = None

    @property
    def pure_camel_case(self) -> bool:
        """Whether every frame this link received used camelCase field names only."""
        return not self.casing
