"""An OpenAI-protocol connection asked to send an event its provider cannot express raises
``UnsupportedEventError``; nothing is dropped silently and the link goes on."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from voicewire.protocol import (
    ActivityEnd,
    ActivityStart,
    ItemDelete,
    ItemTruncate,
    TransportStatus,
    UnsupportedEventError,
)
from voicewire.providers.openai import codec as openai_codec
from voicewire.providers.openai_protocol.connection import OpenAIProtocolConnection
from voicewire.providers.xai import codec as xai_codec


class MemorySocket:
    """Keeps what is sent; receives nothing until closed."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._closed = asyncio.Event()

    async def send(self, message: str, /) -> None:
        self.sent.append(message)

    async def recv(self) -> str | bytes:
        await self._closed.wait()
        raise ConnectionError("closed")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self._closed.set()


async def test_xai_truncate_raises_instead_of_vanishing() -> None:
    socket = MemorySocket()
    connection = OpenAIProtocolConnection(socket, xai_codec.CODEC, provider="xai")
    with pytest.raises(UnsupportedEventError, match=r"xai cannot take item\.truncate") as raised:
        connection.send(ItemTruncate("item_a", 420))
    assert raised.value.code == "unsupported_event"
    connection.send(ItemDelete("item_a"))  # the link goes on
    assert connection.status is TransportStatus.CONNECTED
    await connection.close()
    assert [json.loads(m)["type"] for m in socket.sent] == ["conversation.item.delete"]


@pytest.mark.parametrize("event", [ActivityStart(), ActivityEnd()], ids=lambda e: e.kind)
async def test_openai_has_no_activity_signals(event: ActivityStart | ActivityEnd) -> None:
    socket = MemorySocket()
    connection = OpenAIProtocolConnection(socket, openai_codec.CODEC, provider="openai")
    with pytest.raises(UnsupportedEventError, match=re.escape(f"openai cannot take {event.kind}")):
        connection.send(event)
    connection.send(ItemTruncate("item_a", 420))  # OpenAI can truncate
    await connection.close()
    assert [json.loads(m)["type"] for m in socket.sent] == ["conversation.item.truncate"]
