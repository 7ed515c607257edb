"""What a session sends on a new link after a drop, for what the last link never acknowledged:
the latest settings (never an older update again), speech the model committed but never
transcribed, a cancelled response left cancelled, and a response cut by the drop asked for again.
Each link is an in-memory connection the test answers by hand (the ledger's own rules are in
tests/session/test_unacked.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from tests.session.conftest import MemoryConnection, settle
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    AudioInputAppend,
    AudioInputCommitted,
    AudioPart,
    ConnectOptions,
    ItemCreate,
    ItemCreated,
    MessageItem,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    SessionConfig,
    SessionError,
    SessionUpdate,
    SpeechStarted,
    SpeechStopped,
    TokenCredential,
    TranscriptInput,
    TransportStatus,
)
from voicewire.session import ReconnectPolicy

AGENT = RealtimeAgent(id="a", name="A", instructions="Answer.")
FRAME = 480
"""10 ms of the session's default input audio (24 kHz PCM16)."""


class Links:
    """A model that opens a new in-memory link on every connect and keeps the config each
    opened with."""

    provider = "memory"
    model_id = "memory-links"

    def __init__(self) -> None:
        self.links: list[MemoryConnection] = []
        self.configs: list[SessionConfig | None] = []

    async def connect(self, options: ConnectOptions | None = None) -> MemoryConnection:
        self.configs.append(options.session_config if options else None)
        self.links.append(MemoryConnection())
        return self.links[-1]

    async def authenticate(self) -> TokenCredential:
        raise NotImplementedError

    @property
    def link(self) -> MemoryConnection:
        return self.links[-1]


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.002)


async def drop(session: RealtimeSession, model: Links) -> MemoryConnection:
    """The current link dies; returns the new one once the session is back."""
    links = len(model.links)
    model.link.push(SessionError("connection_lost", "the cable was cut", fatal=True))
    await model.link.close()
    await wait_until(
        lambda: len(model.links) > links and session.status is TransportStatus.CONNECTED
    )
    await settle()
    return model.link


async def ask(session: RealtimeSession, model: Links, text: str) -> None:
    """Send ``text``; the model acknowledges it and begins its answer."""
    session.send_message(text)
    (create,) = model.link.of("item.create")
    model.link.push(ItemCreated(create.item), ResponseCreated("resp_1"))
    await settle()


def session_on(model: Links) -> RealtimeSession:
    return RealtimeSession(AGENT, model=model, reconnect=ReconnectPolicy(initial_delay=0.0))


async def test_settings_changed_into_a_dead_link_are_the_ones_the_new_link_has() -> None:
    model = Links()
    async with session_on(model) as session:
        session.update(instructions="A")
        session.update(instructions="B")  # neither acknowledged: the link is dead
        link = await drop(session, model)
        # The new link opens with B; sending A again would have rolled it back.
        assert model.configs[-1] is not None and model.configs[-1].instructions == "B"
        assert link.of("session.update") == []
        # An update sent raw through send() is the session's config too.
        session.send(SessionUpdate(replace(session.config, instructions="C")))
        assert session.config.instructions == "C"
        link = await drop(session, model)
        assert model.configs[-1] is not None and model.configs[-1].instructions == "C"
        assert link.of("session.update") == []


async def test_speech_committed_but_not_transcribed_reaches_the_new_link_once() -> None:
    model = Links()
    spoken = [bytes([n]) * FRAME for n in range(1, 4)]
    async with session_on(model) as session:
        for audio in spoken:
            session.send_audio(audio)
        model.link.push(
            SpeechStarted("item_1", 0),
            SpeechStopped("item_1", 30),
            AudioInputCommitted("item_1"),
            ItemCreated(MessageItem("item_1", "user", (AudioPart(),))),
        )
        await settle()
        link = await drop(session, model)  # before the transcript came
        # No words to replay: the audio goes again, and no empty item with it.
        assert [e.audio for e in link.of("audio.input.append")] == spoken
        assert link.of("item.create") == []
        # On the new link the turn is committed and transcribed: the next link gets the words.
        link.push(
            SpeechStopped("item_9", 30),
            AudioInputCommitted("item_9"),
            ItemCreated(MessageItem("item_9", "user", (AudioPart(),))),
            TranscriptInput("item_9", "what time is it"),
        )
        await settle()
        link = await drop(session, model)
        assert link.of("audio.input.append") == []
        assert [e.item.text for e in link.of("item.create")] == ["what time is it"]


async def test_audio_sent_after_a_voice_commit_cut_its_buffer_is_not_lost() -> None:
    model = Links()
    async with session_on(model) as session:
        for n in range(3):
            session.send_audio(bytes([n + 1]) * FRAME)
        # Voice detection cut the buffer after 20 ms; the third frame started the next one.
        model.link.push(
            SpeechStopped("item_1", 20),
            AudioInputCommitted("item_1"),
            TranscriptInput("item_1", "hi"),
        )
        await settle()
        link = await drop(session, model)
        assert link.of("audio.input.append") == [AudioInputAppend(bytes([3]) * FRAME)]


async def test_a_response_cancelled_in_the_dead_window_does_not_come_back() -> None:
    model = Links()
    async with session_on(model) as session:
        session.send_message("tell me a story")
        (create,) = model.link.of("item.create")
        model.link.push(ItemCreated(create.item))
        await settle()
        session.send(ResponseCancel())  # the response.create was never acknowledged
        link = await drop(session, model)
        assert link.kinds() == ["item.create"]  # the replay; no response.create


async def test_a_response_cut_by_the_drop_is_asked_for_again_once() -> None:
    model = Links()
    done: list[str] = []
    async with session_on(model) as session:
        session.on("response.done", lambda e: done.append(e.status))
        await ask(session, model, "what's the weather?")
        link = await drop(session, model)
        assert done == ["failed"]  # the listener hears the end of the cut response
        assert link.kinds() == ["item.create", "response.create"]  # the replay, then asked again
        link = await drop(session, model)  # the request itself never acknowledged this time
        assert link.kinds() == ["item.create", "response.create"]


async def test_a_response_the_user_interrupted_is_not_asked_for_again() -> None:
    model = Links()
    async with session_on(model) as session:
        await ask(session, model, "what's the weather?")
        session.interrupt()
        link = await drop(session, model)
        assert link.kinds() == ["item.create"]
        assert isinstance(link.sent[0], ItemCreate)


async def test_a_newer_request_supersedes_the_cut_response() -> None:
    model = Links()
    async with session_on(model) as session:
        await ask(session, model, "first")
        session.send_message("never mind, second")  # its own request, never acknowledged
        link = await drop(session, model)
        assert [e.kind for e in link.sent].count("response.create") == 1
        assert isinstance(link.sent[-1], ResponseCreate)


class Delivering(MemoryConnection):
    """An in-memory link that can tell what arrived (the ReportsDelivery hook): everything sent
    before the last :meth:`pong`."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered = 0

    def pong(self) -> None:
        self.delivered = len(self.sent)


class DeliveringLinks(Links):
    async def connect(self, options: ConnectOptions | None = None) -> MemoryConnection:
        self.configs.append(options.session_config if options else None)
        self.links.append(Delivering())
        return self.links[-1]


async def test_silence_a_link_proved_delivered_is_not_sent_again_after_a_drop() -> None:
    model = DeliveringLinks()
    async with session_on(model) as session:
        session.send_audio(bytes([1]) * FRAME)
        model.link.push(  # a first turn: the model shows where its speech starts
            SpeechStarted("item_1", 0),
            SpeechStopped("item_1", 10),
            AudioInputCommitted("item_1"),
            TranscriptInput("item_1", "hi"),
        )
        await settle()
        heard = [n.to_bytes(2, "little") * (FRAME // 2) for n in range(300)]  # 10-3010 ms
        for audio in heard:
            session.send_audio(audio)
        link = model.link
        assert isinstance(link, Delivering)
        link.pong()
        unproven = [bytes([7]) * FRAME, bytes([8]) * FRAME]
        for audio in unproven:
            session.send_audio(audio)
        link = await drop(session, model)
        # Proven up to 3010 ms: what ends by 3010 - 1300 ms is the model's, heard as silence.
        assert [e.audio for e in link.of("audio.input.append")] == [*heard[170:], *unproven]
