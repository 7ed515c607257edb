"""Dialing a WebSocket: the default factory and the translation of handshake failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from ..protocol import ConnectAbortedError, HandshakeError, WebSocketFactory, WireSocket
from ..redaction import protect_logs
from .keepalive import VOICE_KEEPALIVE, Keepalive

OPEN_TIMEOUT_S = 15.0


def websocket_factory(keepalive: Keepalive = VOICE_KEEPALIVE) -> WebSocketFactory:
    """The default socket factory, closing within ``keepalive.close_timeout``.

    ``websockets``' own keepalive is off: it sends its ping outside its pong timeout, so on a
    link that dies while audio flows (the write buffer never drains) it never notices. The
    connection pings the socket instead (see :mod:`.keepalive`)."""

    async def dial_websockets(
        url: str, subprotocols: Sequence[str], headers: Mapping[str, str]
    ) -> WireSocket:
        """Dial with the ``websockets`` client: no compression (audio is incompressible base64
        and deflate costs latency), no message size cap (session objects can be large), and no
        keepalive of its own (the connection's notices a dead link within seconds). Its handshake
        is logged (at DEBUG) to ``websockets.client``, which :func:`dial` has made redact the
        key."""
        return await ws_connect(
            url,
            additional_headers=dict(headers),
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
            compression=None,
            max_size=None,
            open_timeout=OPEN_TIMEOUT_S,
            ping_interval=None,
            ping_timeout=None,
            close_timeout=keepalive.close_timeout,
            logger=logging.getLogger("websockets.client"),
        )

    return dial_websockets


default_websocket = websocket_factory()


async def dial(
    url: str,
    subprotocols: Sequence[str],
    headers: Mapping[str, str],
    *,
    provider: str,
    factory: WebSocketFactory | None = None,
    abort: asyncio.Event | None = None,
) -> WireSocket:
    """Open the socket, honouring ``abort``; failures become clear voicewire errors."""
    if abort is not None and abort.is_set():
        raise ConnectAbortedError(f"connect to {provider} was aborted before it started")
    protect_logs()  # the handshake carries the key; websockets logs it at DEBUG
    opening = asyncio.ensure_future((factory or default_websocket)(url, subprotocols, headers))
    if abort is not None:
        aborted = asyncio.ensure_future(abort.wait())
        try:
            await asyncio.wait({opening, aborted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            aborted.cancel()
        if not opening.done():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
            raise ConnectAbortedError(f"connect to {provider} was aborted")
    try:
        return await opening
    except websockets.InvalidStatus as exc:
        status = exc.response.status_code
        body = exc.response.body.decode("utf-8", "replace")[:300] if exc.response.body else ""
        hint = " (check the API key or credential)" if status in (401, 403) else ""
        raise HandshakeError(
            f"{provider} refused the WebSocket handshake with HTTP {status}{hint}"
            + (f": {body}" if body else ""),
            status=status,
        ) from None
    except websockets.InvalidHandshake as exc:
        raise HandshakeError(f"the WebSocket handshake with {provider} failed: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise HandshakeError(f"could not reach {provider} at {_redact(url)}: {exc}") from None


def _redact(url: str) -> str:
    return url.split("?", 1)[0]


def http_from_ws(url: str) -> str:
    """The HTTP(S) URL of the same host and path as a WebSocket URL (REST calls beside a
    socket: client secrets, signed URLs); other URLs unchanged."""
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url
