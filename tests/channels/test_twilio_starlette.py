"""The Starlette route for Twilio Media Streams (voicewire.channels.twilio_starlette), over a real
WebSocket."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from tests.channels.twilio_support import FakeTwilio, serve
from voicewire.channels import TwilioChannel, twilio_route

pytestmark = pytest.mark.timeout(15)


async def test_the_route_closes_the_channel_when_the_handler_fails() -> None:
    channels: list[TwilioChannel] = []

    async def call(channel: TwilioChannel) -> None:
        channels.append(channel)
        await channel.wait_started()
        raise RuntimeError("the app broke")

    app = Starlette(routes=[twilio_route("/media", call)])
    async with serve(app) as base, connect(f"{base}/media") as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        twilio = FakeTwilio(ws)
        await twilio.start()
        await ws.wait_closed()  # the app closed the call's WebSocket
        (channel,) = channels
        assert channel.stopped.is_set() and channel.stop_reason == "closed"
