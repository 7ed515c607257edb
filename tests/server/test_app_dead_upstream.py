"""The server's link to its model dies without closing (a FaultProxy blackhole between the server
and the fake provider): the client's connection stays up, and what the client said in the dead
window is answered after the server's session reconnects, once."""

from __future__ import annotations

import pytest

from tests.dead_links import TEST_KEEPALIVE
from voicewire import RealtimeAgent
from voicewire.protocol import ConnectOptions
from voicewire.providers.openai import OpenAIRealtimeModel
from voicewire.providers.openai_protocol.connection import OpenAIProtocolConnection
from voicewire.server import create_app
from voicewire.session import ReconnectPolicy
from voicewire.testing import FakeRealtimeServer, FaultProxy, TextReply

from .conftest import raw_client, serve, user_text

pytestmark = pytest.mark.timeout(30)


class HealedOnReconnect(OpenAIRealtimeModel):
    """The network comes back when the server's session dials again."""

    def __init__(self, proxy: FaultProxy, base_url: str) -> None:
        super().__init__(api_key="sk-test", base_url=proxy.url(base_url), keepalive=TEST_KEEPALIVE)
        self.proxy = proxy
        self.dials = 0

    async def connect(self, options: ConnectOptions | None = None) -> OpenAIProtocolConnection:
        self.dials += 1
        if self.dials > 1:
            self.proxy.heal()
        return await super().connect(options)


async def test_a_dead_model_link_is_replaced_and_the_client_answered_once(
    agent: RealtimeAgent,
) -> None:
    async with (
        FakeRealtimeServer(api_key="sk-test") as fake,
        FaultProxy.to(fake.base_url) as proxy,
    ):
        fake.script.default = TextReply("still here")
        model = HealedOnReconnect(proxy, fake.base_url)
        app = create_app(agent, model, reconnect=ReconnectPolicy(initial_delay=0.05))
        async with serve(app) as served, raw_client(served) as client:
            await fake.wait_for_received("session.update")  # the model link is up
            proxy.blackhole()
            await client.send(user_text("are you there?"))
            await client.send({"type": "response.create"})
            frames = await client.until("response.done", timeout=10)
        texts = [f["text"] for f in frames if f["type"] == "response.output_text.done"]
        assert texts == ["still here"]
        assert "error" not in [f["type"] for f in frames]
        said = [m for m in fake.received if m["type"] == "conversation.item.create"]
        assert [m["item"]["content"][0]["text"] for m in said] == ["are you there?"]
        assert model.dials == 2 and fake.connection_count == 2 and not fake.violations
