"""Connection-level limits of the uvicorn server ``voicewire serve`` runs, and building it.

uvicorn bounds a connection *between* requests (``timeout_keep_alive``) and the number of
connections and tasks past which it answers plain HTTP requests with 503
(``limit_concurrency``; WebSocket upgrades are not counted against it by uvicorn, but open
WebSockets count as connections), and h11 bounds the size of a request head (16 KiB). Nothing in
uvicorn bounds the time a client takes to send a request head: a TCP connection that never sends
a request line, or trickles its headers a byte at a time, is held forever. :class:`HeaderTimeoutH11`
(uvicorn's h11 protocol) answers such a connection ``408 Request Timeout`` and closes it once
``header_timeout`` seconds pass without a complete request head, on a new connection and between
keep-alive requests alike.

:func:`uvicorn_server` builds the server with these limits and the drain on SIGTERM
(:class:`~voicewire.server.drain.DrainingServer`).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any, Final

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from voicewire.protocol import ConfigurationError

from .drain import DrainingServer, drain_of

__all__ = ["HeaderTimeoutH11", "ServeOptions", "uvicorn_server"]

TIMEOUT_RESPONSE: Final = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 34\r\n\r\nno complete request head in time\r\n"
)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """The connection limits of a served process.

    Attributes:
        header_timeout: seconds a connection may take to send a complete request head (on
            connect, and after each response on a kept-alive connection); then 408 and close.
        keep_alive_timeout: seconds an idle kept-alive HTTP connection is held (uvicorn's
            ``timeout_keep_alive``).
        limit_concurrency: connections plus running requests past which plain HTTP requests
            are answered 503 (uvicorn's ``limit_concurrency``; ``None``: no limit).
        graceful_timeout: seconds uvicorn waits for connections to end once it stops, after
            the drain (uvicorn's ``timeout_graceful_shutdown``).
    """

    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    limit_concurrency: int | None = None
    graceful_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("header_timeout", "keep_alive_timeout", "graceful_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be positive, got {getattr(self, name)}")
        if self.limit_concurrency is not None and self.limit_concurrency < 1:
            raise ConfigurationError(
                f"limit_concurrency must be at least 1, got {self.limit_concurrency}"
            )


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol, with a deadline on receiving each request head (see the module
    docstring); the deadline is ``config.header_timeout`` (set by :func:`uvicorn_server`)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout: float = getattr(config, "header_timeout", 10.0)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a head arrived (or the upgrade took over)
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request head is due as well

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is h11.IDLE:  # nothing of a response went out
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


def uvicorn_server(
    app: Any,
    options: ServeOptions,
    *,
    log_level: str | None = "warning",
    loop: str = "auto",
    host: str = "127.0.0.1",
    port: int = 0,
    **config: Any,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with ``options``' limits; on SIGTERM it drains ``app``
    first when ``app`` is a voicewire app (see :mod:`.drain`). ``config``: more
    ``uvicorn.Config`` settings."""
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        loop=loop,
        http=HeaderTimeoutH11,
        timeout_keep_alive=options.keep_alive_timeout,  # type: ignore[arg-type]
        limit_concurrency=options.limit_concurrency,
        timeout_graceful_shutdown=options.graceful_timeout,  # type: ignore[arg-type]
        **config,
    )
    settings.header_timeout = options.header_timeout  # type: ignore[attr-defined]
    return DrainingServer(settings, drain_of(app))


def listening_port(server: uvicorn.Server) -> int:
    """The port a started ``server`` listens on."""
    sock: socket.socket = server.servers[0].sockets[0]
    return int(sock.getsockname()[1])
