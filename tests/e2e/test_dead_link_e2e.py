"""A link that dies without closing (a FaultProxy blackhole between the session and the fake
server, both sockets left open) is noticed by the keepalive, the session reconnects, and what was
said into the dead link reaches the model exactly once on the new link, and is answered. A link
that stalls (nobody reads: the sender's buffers fill and its sends block) while audio flows into it
is noticed too. Real provider stack over real TCP on 127.0.0.1, in OpenAI's and xAI's dialects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.dead_links import TEST_KEEPALIVE
from tests.e2e.test_session_e2e import AGENT, until
from voicewire import RealtimeSession, SessionConfig
from voicewire.protocol import ConnectOptions, TransportStatus
from voicewire.providers import openai, xai
from voicewire.session import ReconnectPolicy, StatusChanged
from voicewire.testing import FakeRealtimeServer, FaultProxy, TextReply, silence, tone

pytestmark = pytest.mark.timeout(30)

GIVE_UP_S = 10.0
"""A failure bound for waits (a lost message never gets an answer): not a timing assertion."""


def words(item: dict[str, Any]) -> str:
    return " ".join(str(p.get("text") or p.get("transcript") or "") for p in item["content"])


def created(received: list[dict[str, Any]]) -> list[str]:
    return [
        words(m["item"])
        for m in received
        if m["type"] == "conversation.item.create" and m["item"]["type"] == "message"
    ]


def proxied_session(server: FakeRealtimeServer, proxy: FaultProxy) -> RealtimeSession:
    factory = openai.realtime if server.dialect.name == "openai" else xai.realtime
    model = factory(
        api_key="sk-test", base_url=proxy.url(server.base_url), keepalive=TEST_KEEPALIVE
    )
    session = RealtimeSession(
        AGENT,
        model=model,
        connect_options=ConnectOptions(session_config=SessionConfig(modalities=["text"])),
        reconnect=ReconnectPolicy(initial_delay=0.05),
    )

    def heal_once_noticed(event: Any) -> None:
        if isinstance(event, StatusChanged) and event.status is TransportStatus.RECONNECTING:
            proxy.heal()  # the network comes back: the reconnect can get through

    session.on("status.changed", heal_once_noticed)
    return session


async def test_a_message_said_into_a_dead_link_is_delivered_once_and_answered(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("noted")
    async with FaultProxy.to(server.base_url) as proxy, proxied_session(server, proxy) as session:
        session.send_message("remember this")
        await until(session, "response.done")
        proxy.blackhole()  # the link goes silent; status still says connected
        assert session.status is TransportStatus.CONNECTED
        session.send_message("are you there?")
        async with asyncio.timeout(GIVE_UP_S):
            events = await until(session, "text.output")
        last_link = server.conversation
    statuses = [e.status for e in events if isinstance(e, StatusChanged)]
    assert statuses == [TransportStatus.RECONNECTING, TransportStatus.CONNECTED]
    assert [e.text for e in events if e.kind == "text.output"] == ["noted"]  # type: ignore[attr-defined]
    # The dead link swallowed the first copy; the new link got the message once, after the replay.
    assert created(server.received).count("are you there?") == 1
    assert [words(i) for i in last_link] == ["remember this", "noted", "are you there?", "noted"]
    assert server.received_types().count("response.create") == 2
    assert session.reconnects == 1 and not server.violations and not server.errors


async def test_speech_said_into_a_dead_link_is_heard_after_the_reconnect(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("heard you")
    server.script.input_transcript = "what time is it"
    async with FaultProxy.to(server.base_url) as proxy, proxied_session(server, proxy) as session:
        session.send_message("hello")
        await until(session, "response.done")
        proxy.blackhole()
        session.send_audio(tone(600))  # the user speaks into the dead link
        session.send_audio(silence(400))  # then pauses: end of turn
        async with asyncio.timeout(GIVE_UP_S):
            events = await until(session, "text.output")
    assert [e.text for e in events if e.kind == "text.output"] == ["heard you"]  # type: ignore[attr-defined]
    assert server.sent_types().count("input_audio_buffer.committed") == 1
    assert not server.violations and not server.errors


async def test_a_response_cut_by_a_dead_link_is_asked_for_again_and_answered_once(
    server: FakeRealtimeServer,
) -> None:
    answer = "one two three four five six seven eight nine ten"
    server.script.default = TextReply(answer, pace=0.1)
    async with FaultProxy.to(server.base_url) as proxy, proxied_session(server, proxy) as session:
        session.send_message("count to ten")
        await until(session, "text.output.delta")  # the answer has begun
        proxy.blackhole()  # and the link dies under it
        async with asyncio.timeout(GIVE_UP_S):
            events = await until(session, "text.output")
        last_link = server.conversation
    done = [e.status for e in events if e.kind == "response.done"]  # type: ignore[attr-defined]
    assert done == ["failed"]  # the cut response, as the listener was told
    assert [e.text for e in events if e.kind == "text.output"] == [answer]  # type: ignore[attr-defined]
    # Asked for again once on the new link, after the replay of the question.
    assert server.received_types().count("response.create") == 2
    assert [words(i) for i in last_link] == ["count to ten", answer]
    assert not server.violations and not server.errors


async def test_audio_flowing_into_a_stalled_link_is_noticed_and_the_session_reconnects(
    server: FakeRealtimeServer,
) -> None:
    """The link stops carrying bytes while the user talks: the socket's buffers fill and every
    send, the keepalive's ping among them, waits for room that never comes."""
    server.script.default = TextReply("noted")
    async with FaultProxy.to(server.base_url) as proxy, proxied_session(server, proxy) as session:
        session.send_message("remember this")
        await until(session, "response.done")
        proxy.stall()  # the link stops carrying bytes; both sockets stay open
        async with asyncio.timeout(GIVE_UP_S):
            while session.status is TransportStatus.CONNECTED:
                session.send_audio(silence(1000))  # faster than real time: the buffers fill
                await asyncio.sleep(0.01)
            session.send_message("are you there?")
            events = await until(session, "text.output")
    statuses = [e.status for e in events if isinstance(e, StatusChanged)]
    assert statuses == [TransportStatus.RECONNECTING, TransportStatus.CONNECTED]
    assert [e.text for e in events if e.kind == "text.output"] == ["noted"]  # type: ignore[attr-defined]
    assert session.reconnects == 1 and not server.violations and not server.errors
