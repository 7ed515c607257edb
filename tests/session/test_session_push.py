"""A session on a connection that pushes its events (PushConnection): events are handled in the
task that produced them, an in-process model may answer inside ``send``, and order holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.session.conftest import FakeChannel
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioOutputDelta,
    ClientEvent,
    ConnectOptions,
    ItemCreated,
    ItemTruncate,
    ItemTruncated,
    MessageItem,
    PushConnection,
    ResponseCreated,
    ServerEvent,
    SpeechStarted,
    StatusListener,
    TokenCredential,
    TransportStatus,
)
from voicewire.providers.event_stream import EventStream
from voicewire.session import ReconnectPolicy

MS = AudioFormat.pcm16(24000).bytes_per_second // 1000


class AnsweringConnection:
    """Answers within ``send``, as the scripted echo and the local model can: each audio chunk
    comes straight back as the assistant's audio; a truncate is confirmed at once."""

    def __init__(self) -> None:
        self.stream = EventStream()
        self.sent: list[ClientEvent] = []
        self._started = False

    @property
    def status(self) -> TransportStatus:
        return self.stream.status

    @property
    def session_id(self) -> str | None:
        return "sess_push"

    def send(self, event: ClientEvent) -> None:
        self.sent.append(event)
        if isinstance(event, AudioInputAppend):
            if not self._started:
                self._started = True
                self.stream.put(ResponseCreated("resp_1"))
                self.stream.put(ItemCreated(MessageItem("item_1", "assistant", (), "in_progress")))
            self.stream.put(AudioOutputDelta.from_bytes("resp_1", "item_1", event.audio))
        elif isinstance(event, ItemTruncate):
            self.stream.put(ItemTruncated(event.item_id, event.audio_end_ms))

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        return self.stream.on_status(listener)

    def __aiter__(self) -> AsyncIterator[ServerEvent]:
        return self.stream.events()

    def deliver_to(
        self, on_event: Callable[[ServerEvent], None], on_end: Callable[[], None]
    ) -> None:
        self.stream.deliver_to(on_event, on_end)

    async def close(self) -> None:
        self.stream.set_status(TransportStatus.CLOSED)
        self.stream.end()


class AnsweringModel:
    provider = "memory"
    model_id = "answering-1"

    def __init__(self) -> None:
        self.connection = AnsweringConnection()

    async def connect(self, options: ConnectOptions | None = None) -> AnsweringConnection:
        return self.connection

    async def authenticate(self) -> TokenCredential:
        raise NotImplementedError


def agent() -> RealtimeAgent:
    return RealtimeAgent(id="a", name="A", instructions="Echo.")


def test_the_answering_connection_is_a_push_connection() -> None:
    assert isinstance(AnsweringConnection(), PushConnection)


async def test_events_are_handled_inside_the_call_that_caused_them() -> None:
    model = AnsweringModel()
    channel = FakeChannel()
    seen: list[str] = []
    async with RealtimeSession(agent(), model=model, channel=channel) as session:
        session.on("*", lambda e: seen.append(e.kind))
        session.send_audio(b"\x01\x00" * 480)
        # No await in between: the answer was handled within send_audio.
        assert seen == ["response.created", "item.created", "audio.output.delta"]
        assert channel.played == [("item_1", b"\x01\x00" * 480)]
        assert session.playback.received_ms("item_1") == 20


async def test_barge_in_truncates_and_the_models_confirmation_comes_after_not_nested() -> None:
    model = AnsweringModel()
    channel = FakeChannel()
    seen: list[str] = []
    async with RealtimeSession(agent(), model=model, channel=channel) as session:
        session.on("*", lambda e: seen.append(e.kind))
        session.send_audio(b"\x00\x00" * 4800)  # 200 ms of assistant audio
        channel.heard_ms = 120
        seen.clear()
        model.connection.stream.put(SpeechStarted("item_user"))
        # The session cuts before it passes speech.started on; the confirmation of the truncate
        # the cut sent comes after both, not in the middle of handling speech.started.
        assert seen == ["response.interrupted", "speech.started", "item.truncated"]
        truncates = [e for e in model.connection.sent if isinstance(e, ItemTruncate)]
        assert [(t.item_id, t.audio_end_ms) for t in truncates] == [("item_1", 120)]
        assert channel.interrupted == 1


async def test_the_end_of_the_stream_disconnects_and_close_waits_for_it() -> None:
    model = AnsweringModel()
    session = RealtimeSession(agent(), model=model, reconnect=ReconnectPolicy(attempts=0))
    statuses: list[TransportStatus] = []
    session.on("status", lambda e: statuses.append(e.status))
    await session.connect()
    model.connection.stream.end()  # the link dropped
    assert session.status is TransportStatus.DISCONNECTED
    await session.close()
    assert statuses[-2:] == [TransportStatus.DISCONNECTED, TransportStatus.CLOSED]


async def test_without_an_event_stream_on_works_and_async_for_says_why_not() -> None:
    model = AnsweringModel()
    seen: list[str] = []
    async with RealtimeSession(agent(), model=model, stream_events=False) as session:
        session.on("audio", lambda e: seen.append(e.kind))
        session.send_audio(b"\x00\x00" * 480)
        assert seen == ["audio.output.delta"]
        with pytest.raises(RuntimeError, match="stream_events=False"):
            async for _ in session:
                pass


async def test_async_for_still_sees_pushed_events_in_order() -> None:
    model = AnsweringModel()
    async with RealtimeSession(agent(), model=model) as session:
        session.send_audio(b"\x00\x00" * 480)
        session.send_audio(b"\x00\x00" * 480)
        kinds: list[str] = []

        async def read() -> None:
            async for event in session:
                kinds.append(event.kind)
                if kinds.count("audio.output.delta") == 2:
                    return

        await asyncio.wait_for(read(), 2)
    assert [k for k in kinds if k != "status.changed"] == [
        "response.created",
        "item.created",
        "audio.output.delta",
        "audio.output.delta",
    ]
