"""Mounting :class:`~voicewire.channels.twilio.TwilioChannel` in a Starlette (or FastAPI) app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .twilio_channel import TwilioChannel

if TYPE_CHECKING:
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

__all__ = ["twilio_route"]


def twilio_route(
    path: str,
    handler: Callable[[TwilioChannel], Awaitable[None]],
    *,
    channel_factory: Callable[[WebSocket], TwilioChannel] | None = None,
    name: str | None = None,
) -> WebSocketRoute:
    """A Starlette WebSocket route for Twilio Media Streams: each connection gets a
    :class:`TwilioChannel` (from ``channel_factory``, default ``TwilioChannel(websocket)``),
    accepted, passed to ``handler``, and closed when the handler returns or raises.
    See :mod:`voicewire.channels.twilio` for a complete app."""
    from starlette.routing import WebSocketRoute  # Starlette is needed only by this route

    make = channel_factory or TwilioChannel

    async def twilio_media_stream(websocket: WebSocket) -> None:
        channel = make(websocket)
        try:
            await channel.accept()
            await handler(channel)
        finally:
            await channel.close()

    return WebSocketRoute(path, twilio_media_stream, name=name)
