"""A voicewire server in front of xAI, which has no ``conversation.item.truncate``: the server
honours a client's truncate itself (it cuts the session's history to what was heard and answers
``conversation.item.truncated``, as OpenAI would) instead of refusing every barge-in."""

from __future__ import annotations

import pytest

from voicewire import RealtimeAgent
from voicewire.providers import xai
from voicewire.server import create_app
from voicewire.testing import AudioReply, FakeRealtimeServer

from .conftest import raw_client, serve, user_text

pytestmark = pytest.mark.timeout(30)


async def test_a_client_truncate_on_an_xai_backed_server_is_honoured_by_the_server() -> None:
    agent = RealtimeAgent(
        id="grok", name="Grok", instructions="Be brief.", voice={"voice_id": "ara"}
    )
    async with FakeRealtimeServer(dialect="xai", api_key="xai-test") as upstream:
        upstream.script.default = AudioReply("Spoken words.", duration_ms=200)
        model = xai.realtime(api_key="xai-test", base_url=upstream.base_url)
        async with serve(create_app(agent, model)) as served, raw_client(served) as client:
            await client.send(user_text("Say something."))
            await client.send({"type": "response.create"})
            [*_, done] = await client.until("response.done")
            [answer] = done["response"]["output"]
            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "event_id": "evt_cut",
                    "item_id": answer["id"],
                    "content_index": 0,
                    "audio_end_ms": 100,
                }
            )
            truncated = await client.recv()
            [relay] = served.server.relays
            cut_at = relay.session.history.truncated_at.get(answer["id"])
            # The connection goes on: the next event is answered as usual.
            await client.send(user_text("Still there?"))
            [*_, added] = await client.until("conversation.item.added")
        await served.wait_idle()
    assert truncated["type"] == "conversation.item.truncated"
    assert truncated["item_id"] == answer["id"] and truncated["audio_end_ms"] == 100
    assert cut_at == 100
    assert added["item"]["role"] == "user"
    assert "error" not in client.types()
    assert "conversation.item.truncate" not in upstream.received_types()
    assert upstream.violations == [] and upstream.errors == []
