"""A barge-in cuts a spoken answer, then the link drops: the new link is told only the words the
user heard, however often it drops, while the session's history keeps the whole answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.session.conftest import FakeChannel
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import ItemCreate, MessageItem, TransportStatus
from voicewire.session import ReconnectPolicy
from voicewire.testing import AudioReply, ScriptedModel
from voicewire.testing.tones import tone

AGENT = RealtimeAgent(id="a", name="A", instructions="Count.")
TEN = "one two three four five six seven eight nine ten"
FRAME = 960  # 20 ms of pcm16 at 24 kHz


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def wait_for_connected(session: RealtimeSession) -> None:
    await wait_until(lambda: session.status is TransportStatus.CONNECTED)


def answer_of(session: RealtimeSession) -> MessageItem | None:
    for item in session.history.items:
        if isinstance(item, MessageItem) and item.role == "assistant" and item.text:
            return item
    return None


async def test_the_new_link_hears_only_what_the_user_heard_of_an_answer_cut_off(
    channel: FakeChannel,
) -> None:
    model = ScriptedModel()
    # The whole answer arrives at once (1000 ms of audio); the listener is 300 ms into it.
    model.script.default = AudioReply(TEN, duration_ms=1000)
    policy = ReconnectPolicy(initial_delay=0.01)
    async with RealtimeSession(AGENT, model=model, channel=channel, reconnect=policy) as session:
        session.send_message("count to ten")
        await wait_until(lambda: answer_of(session) is not None)
        answer = answer_of(session)
        assert answer is not None and answer.text == TEN and answer.id is not None
        channel.heard_ms = 300
        speech = tone(200)  # the user speaks up: the model's VAD hears it, a barge-in
        for start in range(0, len(speech), FRAME):
            session.send_audio(speech[start : start + FRAME])
        await wait_until(lambda: answer.id in session.history.truncated_at)
        assert session.history.truncated_at == {answer.id: 300}
        assert channel.interrupted == 1

        for drop in range(2):
            await model.connections[0].drop()
            await wait_for_connected(session)
            (link,) = model.connections
            await wait_until(lambda: len(link.items) == 2)  # noqa: B023 - awaited here
            said = {item.id: item.text for item in link.items if isinstance(item, MessageItem)}
            assert said == {session.history.items[0].id: "count to ten", answer.id: "one two three"}
            # The echo of the cut answer did not replace its words: the next drop cuts the
            # whole answer again, not the heard part (which would leave "one").
            held = session.history.get(answer.id)
            assert isinstance(held, MessageItem) and held.text == TEN, drop
    replayed = [
        e.item.text
        for e in model.received
        if isinstance(e, ItemCreate) and e.item.id == answer.id and isinstance(e.item, MessageItem)
    ]
    assert replayed == ["one two three", "one two three"]
