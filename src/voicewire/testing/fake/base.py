"""State, sending and item announcements shared by the parts of the fake realtime server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from voicewire.protocol.conversation import OrderedItems
from voicewire.providers.openai_protocol.dialect import Dialect

from ..energy_vad import EnergyVad
from ..responder import ResponseRun
from ..script import Script, ToolCallReply

__all__ = [
    "CANCEL_TIMEOUT_S",
    "Event",
    "FakeBase",
    "FakeConnection",
    "ResponseStream",
    "audio_part",
]

CANCEL_TIMEOUT_S = 5.0
"""How long a cancelled response may take to finish before its task is cancelled."""

Event = dict[str, Any]
"""A client or server event as JSON."""


@dataclass(eq=False)
class FakeConnection:
    """One client connection: its session, conversation and input and output state."""

    ws: ServerConnection
    session: dict[str, Any]
    conversation_id: str
    items: OrderedItems[dict[str, Any]] = field(default_factory=OrderedItems)
    heard: dict[str, str] = field(default_factory=dict)
    calls: dict[str, ToolCallReply] = field(default_factory=dict)
    audio_sent_ms: dict[str, float] = field(default_factory=dict)
    vad: EnergyVad = field(default_factory=EnergyVad)
    user_audio_ms: float = 0.0
    response: ResponseRun | None = None
    closed: bool = False


@dataclass(eq=False)
class ResponseStream:
    """A response being streamed on one connection (``out_of_band``: outside the conversation)."""

    conn: FakeConnection
    resp: ResponseRun
    out_of_band: bool

    @property
    def cancelled(self) -> bool:
        return self.resp.cancelled


class FakeBase:
    """What every part of the fake server shares: its state and how it sends.

    The event handlers are split by concern into mixins (session, items, input audio,
    responses) on this base; :class:`~voicewire.testing.FakeRealtimeServer` combines them.
    """

    dialect: Dialect
    script: Script
    vad_rms_threshold: float
    sent: list[Event]
    errors: list[Event]
    input_audio: bytearray
    violations: list[str]
    undeclared_tool_calls: list[str]
    _xai: bool
    _connections: list[FakeConnection]
    _tasks: set[asyncio.Task[None]]
    _ids: Iterator[int]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):08d}"

    def _live(self) -> list[FakeConnection]:
        live = [conn for conn in self._connections if not conn.closed]
        if not live:
            raise RuntimeError("the fake server has no live connection")
        return live

    async def _send(self, conn: FakeConnection, event: Mapping[str, Any]) -> None:
        if conn.closed:
            return
        payload = {"event_id": self._new_id("event"), **event}
        text = json.dumps(payload)
        record = json.loads(text)
        self.sent.append(record)
        if record.get("type") == "error":
            self.errors.append(record)
        try:
            await conn.ws.send(text)
        except ConnectionClosed:
            conn.closed = True
            raise

    async def _error(
        self,
        conn: FakeConnection,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        await self._send(
            conn,
            {
                "type": "error",
                "error": {
                    "type": error_type,
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": event_id,
                },
            },
        )

    async def _item_added(
        self, conn: FakeConnection, item: dict[str, Any], previous_id: str | None
    ) -> None:
        await self._send(
            conn,
            {
                "type": "conversation.item.added",
                "previous_item_id": None if self._xai else previous_id,
                "item": item,
            },
        )

    async def _item_done(
        self, conn: FakeConnection, item: dict[str, Any], previous_id: str | None
    ) -> None:
        if not self._xai:
            await self._send(
                conn,
                {"type": "conversation.item.done", "previous_item_id": previous_id, "item": item},
            )


def audio_part(session: Mapping[str, Any], direction: str) -> dict[str, Any]:
    """``session.audio.<direction>`` or an empty dict."""
    audio = session.get("audio")
    part = audio.get(direction) if isinstance(audio, dict) else None
    return part if isinstance(part, dict) else {}
