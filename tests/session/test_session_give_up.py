"""After the session gives up its link: sending refuses with a clear error (audio is dropped, not
queued without end), and a manual connect() brings the same conversation back the way a
reconnect would — history first, then what was said while reconnecting."""

from __future__ import annotations

import pytest

from tests.session.conftest import FakeChannel, MemoryModel, settle
from tests.session.test_session import audio_delta, make_agent
from tests.session.test_session_reconnect import (
    AGENT,
    FlakyModel,
    wait_for_status,
    wait_until,
)
from voicewire import RealtimeSession
from voicewire.protocol import (
    AudioSink,
    ConnectionClosedError,
    ItemCreate,
    ResponseCreate,
    ResponseCreated,
    TransportStatus,
)
from voicewire.session import ReconnectPolicy
from voicewire.testing import TextReply


class CountingChannel(FakeChannel):
    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    async def start(self, sink: AudioSink) -> None:
        self.starts += 1
        await super().start(sink)


async def gave_up_session(
    channel: FakeChannel | None = None,
) -> tuple[RealtimeSession, FlakyModel]:
    """A session that heard "first" / "hi", lost its link, heard "meanwhile" while
    reconnecting, and gave up after two refused attempts."""
    model = FlakyModel(refusals=2)
    model.script.default = TextReply("hi")
    policy = ReconnectPolicy(attempts=2, initial_delay=0.01)
    session = RealtimeSession(AGENT, model=model, channel=channel, reconnect=policy)
    await session.connect()
    session.send_message("first")
    await wait_until(lambda: len(session.history) == 2)
    await model.connections[0].drop()
    session.send_message("meanwhile")  # queued while reconnecting: still owed to the model
    await wait_for_status(session, TransportStatus.DISCONNECTED)
    return session, model


async def test_after_giving_up_sending_refuses_and_says_how_to_go_on() -> None:
    session, model = await gave_up_session()
    with pytest.raises(ConnectionClosedError, match=r"stopped reconnecting.*await connect\(\)"):
        session.send_message("anyone there?")
    with pytest.raises(ConnectionClosedError):
        session.create_response()
    with pytest.raises(ConnectionClosedError):
        session.update(instructions="changed")
    assert session.config.instructions != "changed"  # refused: nothing changed
    session.send_audio(b"\x00\x01" * 480)  # a channel still capturing: dropped, counted
    assert session.audio_dropped_while_disconnected == 960
    received = len(model.received)
    await session.close()
    assert len(model.received) == received


async def test_a_manual_connect_replays_the_history_then_what_was_owed() -> None:
    channel = CountingChannel()
    session, model = await gave_up_session(channel)
    history = [(item.id, getattr(item, "text", None)) for item in session.history.items]
    first_link = len(model.received)
    await session.connect()
    assert session.status is TransportStatus.CONNECTED
    (link,) = model.connections
    await wait_until(lambda: len(link.items) == 4)  # replay, "meanwhile" and its answer
    again = model.received[first_link:]
    creates = [(e.item.id, e.item.text) for e in again if isinstance(e, ItemCreate)]  # type: ignore[union-attr]
    assert creates[:2] == history  # the conversation, under its ids
    assert creates[2][1] == "meanwhile"
    assert [type(e) for e in again] == [ItemCreate, ItemCreate, ItemCreate, ResponseCreate]
    assert [i.id for i in session.history.items][:2] == [i for i, _ in history]
    assert len(session.history) == 4  # nothing doubled
    assert channel.starts == 1  # the channel kept running: not started twice
    session.send_message("and now?")  # sending works again
    await wait_until(lambda: len(session.history) == 6)
    await session.close()


async def test_a_manual_connect_keeps_the_live_session_config() -> None:
    model = FlakyModel(refusals=1)
    policy = ReconnectPolicy(attempts=1, initial_delay=0.01)
    async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
        session.update(instructions="Speak like a pirate.")
        await model.connections[0].drop()
        await wait_for_status(session, TransportStatus.DISCONNECTED)
        await session.connect()
        assert model.connections[0].config.instructions == "Speak like a pirate."


async def test_a_manual_connect_that_fails_leaves_the_session_refusing() -> None:
    session, model = await gave_up_session()
    model.refusals = 1
    with pytest.raises(ConnectionRefusedError):
        await session.connect()
    assert session.status is TransportStatus.DISCONNECTED
    with pytest.raises(ConnectionClosedError):
        session.send_message("still nobody?")
    await session.connect()  # the model takes calls again
    assert session.status is TransportStatus.CONNECTED
    await session.close()


async def test_interrupt_after_giving_up_stops_playback_and_cuts_the_history_only(
    model: MemoryModel, channel: FakeChannel
) -> None:
    policy = ReconnectPolicy(attempts=0)
    session = RealtimeSession(make_agent(), model=model, channel=channel, reconnect=policy)
    await session.connect()
    conn = model.connection
    conn.push(ResponseCreated("r"), audio_delta("item_a", 300, "r"))
    await settle()
    await conn.close()  # the link drops while the answer still plays
    await settle()
    assert session.status is TransportStatus.DISCONNECTED
    channel.heard_ms = 100
    session.interrupt()  # no link to tell, and no error for the listener who spoke up
    assert channel.interrupted == 1
    assert conn.of("item.truncate") == []
    assert session.history.truncated_at == {"item_a": 100}
    await session.close()
