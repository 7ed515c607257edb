"""One port for the fake Gemini server's WebSocket and REST sides, and a slow pong.

Gemini serves ``wss://host/ws/...`` and ``https://host/v1alpha/auth_tokens`` on one host, and
clients derive one from the other. The ``websockets`` server only parses ``GET`` requests, so each
accepted connection looks at its first bytes: a ``GET`` goes to ``websockets`` unchanged, any
other request line is read whole (headers and ``Content-Length`` body, bounded) and answered by
the server's REST handler with a JSON response, then the TCP connection is closed.

Gemini answered WebSocket pings in 8 to 30 seconds in the field, which killed calls whose
keepalive waited 20 s. ``pong_delay`` reproduces that: pongs are held that many seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import OP_PONG, Frame

__all__ = ["RestHandler", "connection_class"]

RestHandler = Callable[[str, str, dict[str, str], bytes], tuple[HTTPStatus, dict[str, Any]]]
"""``(method, path, headers with lower-case names, body) -> (status, JSON answer)``."""

_MAX_HEAD = 16 * 1024
_MAX_BODY = 1024 * 1024


def connection_class(rest: RestHandler, pong_delay: Callable[[], float]) -> type[ServerConnection]:
    """A ``ServerConnection`` class that also answers REST requests and may delay pongs."""

    class HybridConnection(ServerConnection):
        """A WebSocket connection, unless its first request line is not a ``GET``."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._sniffed: bytes | None = b""
            self._websocket: asyncio.Future[None] = self.loop.create_future()
            send_frame = self.protocol.send_frame

            def delayed_send_frame(frame: Frame) -> None:
                delay = pong_delay()
                if frame.opcode is not OP_PONG or delay <= 0:
                    send_frame(frame)
                    return

                def later() -> None:
                    if self.transport is not None and not self.transport.is_closing():
                        send_frame(frame)
                        self.send_data()

                self.loop.call_later(delay, later)

            self.protocol.send_frame = delayed_send_frame  # type: ignore[method-assign]

        async def handshake(self, *args: Any, **kwargs: Any) -> None:
            """The WebSocket handshake, once the first bytes said this is a WebSocket; a REST
            request (or a connection closed before its first line) ends quietly instead of
            being logged as a failed handshake."""
            await asyncio.wait(
                [self._websocket, self.connection_lost_waiter],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._websocket.done():
                await super().handshake(*args, **kwargs)

        def data_received(self, data: bytes) -> None:
            if self._sniffed is None:
                super().data_received(data)
                return
            self._sniffed += data
            if len(self._sniffed) < 4:
                return
            if self._sniffed.startswith(b"GET "):
                buffered, self._sniffed = self._sniffed, None
                self._websocket.set_result(None)
                super().data_received(buffered)
                return
            self._answer_rest()

        def _answer_rest(self) -> None:
            assert self._sniffed is not None
            head, found, body = self._sniffed.partition(b"\r\n\r\n")
            if not found:
                if len(self._sniffed) > _MAX_HEAD:
                    self._reply(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, {})
                return
            lines = head.decode("latin-1").split("\r\n")
            method, _, rest_of_line = lines[0].partition(" ")
            path = rest_of_line.rpartition(" ")[0]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= _MAX_BODY:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": {"message": "bad Content-Length"}})
                return
            if len(body) < length:
                return
            status, answer = rest(method, path, headers, body[:length])
            self._reply(status, answer)

        def _reply(self, status: HTTPStatus, answer: dict[str, Any]) -> None:
            self._sniffed = b""
            payload = json.dumps(answer).encode()
            head = (
                f"HTTP/1.1 {int(status)} {status.phrase}\r\n"
                "Content-Type: application/json; charset=UTF-8\r\n"
                f"Content-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + payload)
            self.transport.close()

    return HybridConnection
