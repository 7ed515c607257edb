"""Bringing a dropped link back: the policy, what is replayed, and what the session does
meanwhile (the end-to-end reconnect over a real WebSocket is in tests/e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    AudioInputClear,
    AudioPart,
    ClientEvent,
    ConfigurationError,
    ConnectOptions,
    ItemCreate,
    ItemCreated,
    MessageItem,
    PushConnection,
    RealtimeConnection,
    ServerEvent,
    TextPart,
    ToolCallItem,
    ToolResultItem,
    TransportStatus,
    UnsupportedEventError,
)
from voicewire.session import ReconnectPolicy, replay_events
from voicewire.session.history import ConversationHistory
from voicewire.testing import ScriptedConnection, ScriptedModel, TextReply

AGENT = RealtimeAgent(id="a", name="A", instructions="Answer.")


def test_the_policy_backs_off_exponentially_up_to_its_cap() -> None:
    policy = ReconnectPolicy(attempts=6, initial_delay=0.5, max_delay=3.0)
    assert list(policy.delays()) == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert list(ReconnectPolicy(attempts=0).delays()) == []


@pytest.mark.parametrize(
    "kwargs", [{"attempts": -1}, {"initial_delay": -1.0}, {"initial_delay": 5.0, "max_delay": 1.0}]
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="ReconnectPolicy"):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


def test_replay_keeps_words_tool_exchanges_and_ids_in_a_chain() -> None:
    items = [
        MessageItem("i1", "user", (AudioPart(transcript="what's the weather?", audio=b"\0\0"),)),
        ToolCallItem("i2", "call_1", "get_weather", '{"city": "Paris"}', "completed"),
        ToolResultItem("i3", "call_1", "sunny", "get_weather"),
        MessageItem("i4", "assistant", (TextPart("Sunny."), AudioPart(transcript="Sunny."))),
        MessageItem("i5", "user", (AudioPart(),)),  # nothing was heard: nothing to replay
        MessageItem("local_1", "user", (TextPart("thanks"),)),  # a provider that named nothing
    ]
    events = replay_events(items)
    assert all(isinstance(e, ItemCreate) for e in events)
    chain = [e.previous_item_id for e in events if isinstance(e, ItemCreate)]
    assert chain == [None, "i1", "i2", "i3", "i4"]
    replayed = [e.item for e in events if isinstance(e, ItemCreate)]
    assert replayed == [
        MessageItem("i1", "user", (TextPart("what's the weather?"),), "completed"),
        ToolCallItem("i2", "call_1", "get_weather", '{"city": "Paris"}', "completed"),
        ToolResultItem("i3", "call_1", "sunny", "get_weather"),
        MessageItem("i4", "assistant", (TextPart("Sunny."),), "completed"),  # said once
        MessageItem("local_1", "user", (TextPart("thanks"),), "completed"),
    ]


async def local_link() -> RealtimeConnection:
    """The local model's connection; item bookkeeping needs none of its engines."""
    from voicewire.providers.local.connection import LocalConnection
    from voicewire.providers.local.model import LocalOptions

    no_engines: Any = SimpleNamespace(vad=None, stt=None, tts=None, llm=None)
    return LocalConnection(no_engines, LocalOptions(), model_id="items-only")


async def scripted_link() -> RealtimeConnection:
    return await ScriptedModel().connect()


@pytest.mark.parametrize("open_link", [scripted_link, local_link], ids=["scripted", "local"])
async def test_a_new_link_takes_the_replay_under_its_ids_and_the_history_stays(
    open_link: Callable[[], Awaitable[RealtimeConnection]],
) -> None:
    history = ConversationHistory()
    history.upsert(MessageItem("item_1", "user", (AudioPart(transcript="hi"),)))
    history.upsert(MessageItem(None, "assistant", (TextPart("hello"),)))  # named local_1
    history.upsert(ToolCallItem("item_2", "call_1", "get_weather", "{}", "completed"))
    history.upsert(ToolResultItem("item_3", "call_1", "sunny"))
    before = [item.id for item in history.items]
    echoes: list[ItemCreated] = []
    link = await open_link()
    assert isinstance(link, PushConnection)
    link.deliver_to(
        lambda e: echoes.append(e) if isinstance(e, ItemCreated) else None, lambda: None
    )
    for event in replay_events(history.items):
        link.send(event)
    await asyncio.sleep(0)
    assert [(e.item.id, e.previous_item_id) for e in echoes] == [
        ("item_1", None),
        ("local_1", "item_1"),
        ("item_2", "local_1"),
        ("item_3", "item_2"),
    ]
    for echo in echoes:
        history.upsert(echo.item, echo.previous_item_id)
    assert [item.id for item in history.items] == before
    await link.close()


class FlakyModel(ScriptedModel):
    """Refuses ``refusals`` connection attempts after the first connection."""

    def __init__(self, refusals: int) -> None:
        super().__init__(model_id="flaky")
        self.refusals = refusals
        self.attempts = 0

    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        self.attempts += 1
        if self.attempts > 1 and self.refusals:
            self.refusals -= 1
            raise ConnectionRefusedError("not yet")
        return await super().connect(options)


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def wait_for_status(session: RealtimeSession, status: TransportStatus) -> None:
    async with asyncio.timeout(5):
        while session.status is not status:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_what_is_said_while_reconnecting_follows_the_replay() -> None:
    model = FlakyModel(refusals=2)
    model.script.default = TextReply("hi")
    policy = ReconnectPolicy(initial_delay=0.01)
    async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
        session.send_message("first")
        await asyncio.sleep(0.05)  # the reply comes
        await model.connections[0].drop()
        assert session.status is TransportStatus.RECONNECTING
        session.send_message("meanwhile")  # queued, not lost
        await wait_for_status(session, TransportStatus.CONNECTED)
        assert model.attempts == 4 and session.reconnects == 1
        creates = [e.item.text for e in model.received if isinstance(e, ItemCreate)]
        assert creates == ["first", "first", "hi", "meanwhile"]  # type: ignore[union-attr]


async def test_audio_said_while_reconnecting_reaches_the_new_link_once() -> None:
    model = FlakyModel(refusals=2)
    policy = ReconnectPolicy(initial_delay=0.01)
    frame = 480  # 10 ms
    async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
        session.send_audio(b"\x01\x00" * (frame // 2))
        await model.connections[0].drop()
        assert session.status is TransportStatus.RECONNECTING
        session.send_audio(b"\x02\x00" * (frame // 2))  # queued, not written to the dead link
        await wait_for_status(session, TransportStatus.CONNECTED)
        # The first frame twice (on the lost link, and again as unacknowledged), the second once.
        await wait_until(lambda: model.input_audio_bytes == 3 * frame)
        await asyncio.sleep(0.05)
        assert model.input_audio_bytes == 3 * frame


async def test_many_drops_replay_the_conversation_once_each() -> None:
    model = ScriptedModel()
    model.script.default = TextReply("hi")
    policy = ReconnectPolicy(initial_delay=0.01)
    async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
        errors: list[str] = []
        session.on("error", lambda e: errors.append(e.message))
        session.send_message("first")
        await wait_until(lambda: len(session.history) == 2)  # the reply came
        ids = [item.id for item in session.history.items]
        for _ in range(3):
            await model.connections[0].drop()
            await wait_for_status(session, TransportStatus.CONNECTED)
            (link,) = model.connections
            await wait_until(lambda: len(link.items) == 2)  # noqa: B023 - awaited here
            assert [item.id for item in link.items] == ids  # the same ids on the new link
            assert [item.id for item in session.history.items] == ids  # nothing added
        assert session.reconnects == 3
        session.send_message("again")  # new items get ids of their own, next to the replayed
        await wait_until(lambda: len(session.history) == 4)
        assert errors == []
    creates = [e.item.text for e in model.received if isinstance(e, ItemCreate)]
    assert creates == ["first"] + ["first", "hi"] * 3 + ["again"]


async def test_a_response_cut_by_the_drop_is_finished_for_the_listener() -> None:
    model = ScriptedModel()
    model.script.default = TextReply("a long answer that is cut off", pace=0.05)
    done: list[str] = []
    policy = ReconnectPolicy(initial_delay=0.01)
    async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
        session.on("response.done", lambda e: done.append(e.status))
        session.send_message("talk")
        await asyncio.sleep(0.08)
        await model.connections[0].drop()
        assert done == ["failed"]
        await wait_for_status(session, TransportStatus.CONNECTED)


async def test_closing_while_reconnecting_stops_trying() -> None:
    model = FlakyModel(refusals=100)
    session = RealtimeSession(AGENT, model=model, reconnect=ReconnectPolicy(initial_delay=0.05))
    await session.connect()
    await model.connections[0].drop()
    assert session.status is TransportStatus.RECONNECTING
    await session.close()
    attempts = model.attempts
    await asyncio.sleep(0.2)
    assert session.status is TransportStatus.CLOSED and model.attempts == attempts


async def test_giving_up_says_why_once_and_disconnects() -> None:
    model = FlakyModel(refusals=100)
    errors: list[str] = []
    policy = ReconnectPolicy(attempts=2, initial_delay=0.01)
    async with RealtimeSession(AGENT, model=model, reconnect=policy) as session:
        session.on("error", lambda e: errors.append(f"{e.code}: {e.message}"))
        await model.connections[0].drop("the cable was cut")
        await wait_for_status(session, TransportStatus.DISCONNECTED)
    assert errors == ["connection_lost: the cable was cut; 2 attempts to reconnect failed"]


class PickyConnection:
    """A scripted connection behind a wrapper that only iterates (no push delivery) and
    refuses to clear the input buffer."""

    def __init__(self, inner: ScriptedConnection) -> None:
        self.inner = inner
        self.status = inner.status
        self.session_id = inner.session_id
        self.on_status = inner.on_status
        self.close = inner.close

    def send(self, event: ClientEvent) -> None:
        if isinstance(event, AudioInputClear):
            raise UnsupportedEventError("this model cannot clear its input")
        self.inner.send(event)

    def __aiter__(self) -> AsyncIterator[ServerEvent]:
        return aiter(self.inner)


class PickyModel(ScriptedModel):
    async def connect(self, options: ConnectOptions | None = None) -> PickyConnection:  # type: ignore[override]
        return PickyConnection(await super().connect(options))


async def test_a_queued_event_the_model_refuses_is_reported_and_the_rest_still_go() -> None:
    model = PickyModel()
    session = RealtimeSession(AGENT, model=model)
    errors: list[str] = []
    session.on("error", lambda e: errors.append(e.message))
    session.clear_audio()  # queued while not connected
    session.send_message("hello")
    await session.connect()
    assert not isinstance(PickyConnection(model.connections[0]), PushConnection)  # iterated
    assert errors == ["audio.input.clear not sent: this model cannot clear its input"]
    assert [e.item.text for e in model.received if isinstance(e, ItemCreate)] == ["hello"]  # type: ignore[union-attr]
    await session.close()
