"""Optional channel hooks are declared on the channel interface (issue 10, item 3): the session
calls ``mark_end`` on a channel that is a :class:`MarksItemEnd` and leaves a channel without it
alone, so a third-party channel written against :class:`RealtimeChannel` alone keeps working."""

from __future__ import annotations

from tests.session.conftest import FakeChannel, MemoryModel, settle
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.channels import DeviceChannel, WavChannel
from voicewire.protocol import (
    AudioFormat,
    AudioOutputDelta,
    AudioOutputDone,
    AudioSink,
    MarksItemEnd,
    PlaybackPosition,
    RealtimeChannel,
)

MS = AudioFormat.pcm16(24000).bytes_per_second // 1000
AGENT = RealtimeAgent(id="hooks", name="Hooks", instructions="Be brief.")


class PlainChannel:
    """A channel with the required methods only, as a third party might write one."""

    def __init__(self) -> None:
        self.played: list[str] = []

    async def start(self, sink: AudioSink) -> None:
        pass

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        self.played.append(item_id)

    def interrupt(self) -> None:
        pass

    def playback_position(self) -> PlaybackPosition | None:
        return None

    async def close(self) -> None:
        pass


def _item_audio(item_id: str) -> tuple[AudioOutputDelta, AudioOutputDone]:
    delta = AudioOutputDelta.from_bytes("resp_1", item_id, b"\x01\x00" * (20 * MS // 2))
    return delta, AudioOutputDone("resp_1", item_id)


def test_the_hook_is_optional_on_the_interface() -> None:
    assert isinstance(PlainChannel(), RealtimeChannel)
    assert not isinstance(PlainChannel(), MarksItemEnd)
    assert isinstance(FakeChannel(), MarksItemEnd)
    assert issubclass(DeviceChannel, MarksItemEnd)  # the jitter-buffered channel that needs it
    assert not issubclass(WavChannel, MarksItemEnd)


async def test_a_channel_without_the_hook_hears_a_whole_item_without_errors(
    model: MemoryModel,
) -> None:
    channel = PlainChannel()
    seen: list[str] = []
    async with RealtimeSession(AGENT, model=model, channel=channel) as session:
        session.on("*", lambda event: seen.append(event.kind))
        model.connection.push(*_item_audio("item_a"))
        await settle()
    assert channel.played == ["item_a"]
    assert "session.error" not in seen
    assert "audio.output.done" in seen


async def test_a_channel_with_the_hook_is_told_each_item_end(model: MemoryModel) -> None:
    channel = FakeChannel()
    async with RealtimeSession(AGENT, model=model, channel=channel):
        model.connection.push(*_item_audio("item_a"), *_item_audio("item_b"))
        await settle()
    assert channel.ended == ["item_a", "item_b"]
