"""Replay after a dropped link is idempotent: however many times the link drops, the model on the
new link sees the conversation exactly once, with the items' own ids, and the session's history
never grows by a replay. Real provider stack against the fake server over a real WebSocket."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_session_e2e import session_for, until
from voicewire.protocol import MessageItem, TransportStatus
from voicewire.session import ReconnectPolicy
from voicewire.testing import FakeRealtimeServer, TextReply

pytestmark = pytest.mark.timeout(30)

DROPS = 3


def words(item: dict[str, Any]) -> str:
    return " ".join(
        str(part.get("text") or part.get("transcript") or "") for part in item["content"]
    )


def created_texts(received: list[dict[str, Any]]) -> list[str]:
    return [words(m["item"]) for m in received if m["type"] == "conversation.item.create"]


async def test_every_drop_replays_the_conversation_once_with_its_ids(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("noted")
    policy = ReconnectPolicy(initial_delay=0.01)
    async with session_for(server, reconnect=policy, modalities=["text"]) as session:
        session.send_message("remember this")
        await until(session, "response.done")
        first_link = server.conversation
        assert [words(i) for i in first_link] == ["remember this", "noted"]
        for drop in range(1, DROPS + 1):
            await server.drop_connections(code=1011, reason="server restarting")
            await until(session, "status.changed", count=2)  # reconnecting, connected
            assert session.status is TransportStatus.CONNECTED
            session.send_message(f"turn {drop}")
            await until(session, "response.done")
            assert len(session.history) == 2 + 2 * drop  # the replay added nothing
            ids = [item.id for item in session.history.items]
            assert len(set(ids)) == len(ids)
        last_link = server.conversation
        history = session.history.items
    # The last link holds the conversation once, in order, under the ids of the first link.
    expected = ["remember this", "noted"]
    for drop in range(1, DROPS + 1):
        expected += [f"turn {drop}", "noted"]
    assert [words(i) for i in last_link] == expected
    assert [i["id"] for i in last_link[:2]] == [i["id"] for i in first_link]
    assert [i["id"] for i in last_link] == [i.id for i in history]
    assert [i.text for i in history if isinstance(i, MessageItem)] == expected
    # The first message reached the model once per link: 4 links, 4 times.
    assert created_texts(server.received).count("remember this") == DROPS + 1
    assert server.connection_count == DROPS + 1
    assert not server.violations and not server.errors
