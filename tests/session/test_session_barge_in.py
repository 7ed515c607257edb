"""Barge-in cuts only what the listener has not heard: never an answer heard to its end, never an
item before its first audio frame, and a finished answer still playing where the listener is."""

from __future__ import annotations

import pytest

from tests.session.conftest import FakeChannel, MemoryModel, settle
from tests.session.test_session import audio_delta, make_agent
from voicewire import RealtimeSession
from voicewire.protocol import (
    AudioOutputDelta,
    AudioOutputDone,
    PlaybackPosition,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ServerEvent,
    SpeechStarted,
)


def answer_a(ends: tuple[str, ...] = ("audio", "response")) -> list[ServerEvent]:
    """Response A: 300 ms of audio in item_a, then its audio's end and/or its response's end
    (providers may send only one of them)."""
    return [
        ResponseCreated("resp_a"),
        audio_delta("item_a", 100, "resp_a"),
        audio_delta("item_a", 200, "resp_a"),
        *([AudioOutputDone("resp_a", "item_a")] if "audio" in ends else []),
        *([ResponseDone("resp_a")] if "response" in ends else []),
    ]


class StillOnA(FakeChannel):
    def playback_position(self) -> PlaybackPosition:
        return PlaybackPosition("item_a", 250)


async def barge_in(
    model: MemoryModel, channel: FakeChannel | None, *events: ServerEvent
) -> tuple[RealtimeSession, list[ResponseInterrupted]]:
    """Connect, let ``events`` arrive, then the user starts speaking."""
    session = RealtimeSession(make_agent(), model=model, channel=channel)
    await session.connect()
    interruptions: list[ResponseInterrupted] = []
    session.on("response.interrupted", interruptions.append)
    model.connection.push(*events)
    await settle()
    model.connection.push(SpeechStarted("item_user"))
    await settle()
    return session, interruptions


@pytest.mark.parametrize("ends", [("audio", "response"), ("audio",), ("response",)])
async def test_a_new_response_without_audio_leaves_the_heard_answer_whole(
    model: MemoryModel, channel: FakeChannel, ends: tuple[str, ...]
) -> None:
    channel.heard_ms = 300  # the listener heard all of A
    session, interruptions = await barge_in(
        model, channel, *answer_a(ends), ResponseCreated("resp_b")
    )
    assert model.connection.of("item.truncate") == []
    assert session.history.truncated_at == {}
    # B is what was interrupted, and no item was cut.
    assert [(i.response_id, i.item_id, i.audio_end_ms) for i in interruptions] == [
        ("resp_b", None, None)
    ]
    await session.close()


async def test_without_a_channel_a_new_response_leaves_the_answer_whole(
    model: MemoryModel,
) -> None:
    session, interruptions = await barge_in(model, None, *answer_a(), ResponseCreated("resp_b"))
    assert model.connection.of("item.truncate") == []
    assert [(i.response_id, i.item_id) for i in interruptions] == [("resp_b", None)]
    await session.close()


async def test_an_empty_first_delta_is_no_frame(model: MemoryModel, channel: FakeChannel) -> None:
    channel.heard_ms = 300
    empty = AudioOutputDelta.from_bytes("resp_b", "item_b", b"")
    session, interruptions = await barge_in(
        model, channel, *answer_a(), ResponseCreated("resp_b"), empty
    )
    assert model.connection.of("item.truncate") == []
    assert [(i.item_id, i.audio_end_ms) for i in interruptions] == [(None, None)]
    await session.close()


async def test_an_empty_first_delta_of_the_first_response_is_no_frame(
    model: MemoryModel, channel: FakeChannel
) -> None:
    empty = AudioOutputDelta.from_bytes("resp_a", "item_a", b"")
    session, interruptions = await barge_in(model, channel, ResponseCreated("resp_a"), empty)
    assert model.connection.of("item.truncate") == []
    assert [(i.response_id, i.item_id) for i in interruptions] == [("resp_a", None)]
    await session.close()


async def test_an_answer_heard_to_the_end_is_not_interrupted_at_all(
    model: MemoryModel, channel: FakeChannel
) -> None:
    channel.heard_ms = 300
    session, interruptions = await barge_in(model, channel, *answer_a())
    assert model.connection.of("item.truncate") == [] and interruptions == []
    assert channel.interrupted == 0
    await session.close()


async def test_a_finished_answer_still_playing_is_cut_where_the_listener_is(
    model: MemoryModel, channel: FakeChannel
) -> None:
    channel.heard_ms = 120  # response A is done, its audio is still playing
    session, interruptions = await barge_in(model, channel, *answer_a(), ResponseCreated("resp_b"))
    (truncate,) = model.connection.of("item.truncate")
    assert (truncate.item_id, truncate.audio_end_ms) == ("item_a", 120)
    assert session.history.truncated_at == {"item_a": 120}
    assert [(i.item_id, i.audio_end_ms) for i in interruptions] == [("item_a", 120)]
    assert channel.interrupted == 1
    await session.close()


async def test_a_new_item_queued_behind_the_playing_one_was_not_heard(
    model: MemoryModel,
) -> None:
    """The channel still plays A when B's first audio arrives: A is cut where the listener is,
    and none of B was heard."""
    on_a = StillOnA()  # 250 ms into A
    b_audio = audio_delta("item_b", 200, "resp_b")
    session, interruptions = await barge_in(
        model, on_a, *answer_a(), ResponseCreated("resp_b"), b_audio
    )
    truncates = model.connection.of("item.truncate")
    assert [(t.item_id, t.audio_end_ms) for t in truncates] == [("item_a", 250), ("item_b", 0)]
    assert session.history.truncated_at == {"item_a": 250, "item_b": 0}
    # One interruption, naming what the listener was hearing.
    assert [(i.response_id, i.item_id, i.audio_end_ms) for i in interruptions] == [
        ("resp_b", "item_a", 250)
    ]
    assert on_a.interrupted == 1
    await session.close()


async def test_every_item_queued_behind_the_playing_one_is_cut_at_its_start(
    model: MemoryModel,
) -> None:
    on_a = StillOnA()
    queued = [
        ResponseCreated("resp_b"),
        audio_delta("item_b", 200, "resp_b"),
        ResponseDone("resp_b"),
        ResponseCreated("resp_c"),
        audio_delta("item_c", 100, "resp_c"),
    ]
    session, interruptions = await barge_in(model, on_a, *answer_a(), *queued)
    truncates = model.connection.of("item.truncate")
    assert [(t.item_id, t.audio_end_ms) for t in truncates] == [
        ("item_a", 250),
        ("item_b", 0),
        ("item_c", 0),
    ]
    assert [(i.response_id, i.item_id) for i in interruptions] == [("resp_c", "item_a")]
    await session.close()


async def test_without_a_link_both_cuts_reach_the_history(model: MemoryModel) -> None:
    on_a = StillOnA()
    b_audio = audio_delta("item_b", 200, "resp_b")
    session = RealtimeSession(make_agent(), model=model, channel=on_a, auto_truncate=False)
    await session.connect()
    model.connection.push(*answer_a(), ResponseCreated("resp_b"), b_audio)
    await settle()
    model.connection.push(SpeechStarted("item_user"))
    await settle()
    assert model.connection.of("item.truncate") == []
    assert session.history.truncated_at == {"item_a": 250, "item_b": 0}
    await session.close()


class StaleOnA(FakeChannel):
    """Interrupted while playing A, it goes on naming A as the item played last until the
    audio of a later item plays."""

    def __init__(self) -> None:
        super().__init__()
        self.position = PlaybackPosition("item_a", 250)

    def playback_position(self) -> PlaybackPosition:
        return self.position


async def test_an_item_already_cut_is_not_cut_again(model: MemoryModel) -> None:
    stale = StaleOnA()
    session, interruptions = await barge_in(model, stale, *answer_a(), ResponseCreated("resp_b"))
    # The answer after the barge-in has not begun to play; the channel still names A.
    model.connection.push(ResponseCreated("resp_c"), audio_delta("item_c", 200, "resp_c"))
    await settle()
    model.connection.push(SpeechStarted("item_user_2"))
    await settle()
    truncates = model.connection.of("item.truncate")
    assert [(t.item_id, t.audio_end_ms) for t in truncates] == [("item_a", 250), ("item_c", 0)]
    assert [(i.response_id, i.item_id, i.audio_end_ms) for i in interruptions] == [
        ("resp_b", "item_a", 250),
        ("resp_c", "item_c", 0),
    ]
    await session.close()


async def test_the_second_answer_is_cut_once_its_audio_plays(
    model: MemoryModel, channel: FakeChannel
) -> None:
    channel.heard_ms = 80  # into B, the last item played
    b_audio = audio_delta("item_b", 200, "resp_b")
    session, interruptions = await barge_in(
        model, channel, *answer_a(), ResponseCreated("resp_b"), b_audio
    )
    (truncate,) = model.connection.of("item.truncate")
    assert (truncate.item_id, truncate.audio_end_ms) == ("item_b", 80)
    assert [(i.response_id, i.item_id) for i in interruptions] == [("resp_b", "item_b")]
    await session.close()
