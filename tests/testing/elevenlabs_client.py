"""A raw ElevenLabs Agents client for testing the fake server: JSON over a WebSocket, nothing of
voicewire's codec, so the fake is checked on its own terms."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from voicewire.testing import FakeElevenLabsServer

Message = dict[str, Any]


class RawClient:
    """Send client messages, read server messages (all kept in :attr:`messages`)."""

    def __init__(self, ws: ClientConnection, *, auto_pong: bool = True) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self.messages: list[Message] = []

    async def send(self, message: Message) -> None:
        await self.ws.send(json.dumps(message))

    async def audio(self, pcm: bytes, *, chunk_bytes: int = 640) -> None:
        """Send ``pcm`` (already in the agent's input format) as ``user_audio_chunk`` frames."""
        for start in range(0, len(pcm), chunk_bytes):
            chunk = base64.b64encode(pcm[start : start + chunk_bytes]).decode()
            await self.send({"user_audio_chunk": chunk})

    async def recv(self, timeout: float = 5.0) -> Message:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            message: Message = json.loads(await self.ws.recv())
        self.messages.append(message)
        if self.auto_pong and message["type"] == "ping":
            await self.send({"type": "pong", "event_id": message["ping_event"]["event_id"]})
        return message

    async def until(
        self,
        kind: str,
        where: Callable[[Message], bool] = lambda _: True,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Message:
        """Read until a message of ``kind`` satisfying ``where``; return it."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv()
                if message["type"] == kind and where(message):
                    return message

    def of(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m["type"] == kind]

    async def start(self, **initiation: Any) -> Message:
        """Send initiation data (``conversation_initiation_client_data`` + ``initiation``) and
        return the metadata."""
        await self.send({"type": "conversation_initiation_client_data", **initiation})
        return await self.until("conversation_initiation_metadata")

    async def closed(self, timeout: float = 5.0) -> tuple[int | None, str]:  # noqa: ASYNC109
        """Read until the server closes; its close code and reason."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    await self.recv()
            except Exception:  # ConnectionClosed of any flavour
                pass
        rcvd = self.ws.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")


def open_client(server: FakeElevenLabsServer, url: str | None = None) -> Any:
    """``async with open_client(server) as client:`` on the agent's public URL (or ``url``)."""
    return _Opened(url or server.public_url)


class _Opened:
    def __init__(self, url: str) -> None:
        self._connect = connect(url, max_size=None)

    async def __aenter__(self) -> RawClient:
        return RawClient(await self._connect.__aenter__())

    async def __aexit__(self, *exc: object) -> None:
        await self._connect.__aexit__(None, None, None)


def audio_of(messages: list[Message]) -> bytes:
    """The decoded audio of ``audio`` messages, in order."""
    return b"".join(
        base64.b64decode(m["audio_event"]["audio_base_64"])
        for m in messages
        if m["type"] == "audio"
    )
