"""The scripted model's turn rules are the fake server's: one energy VAD decides both.

Where the two fakes differed before they shared the detector, these pin the behaviour kept (the
fake server's, which is OpenAI's): the padded start never reaches back before the uncommitted
buffer, a manual commit ends the speech it committed, an explicit 0 ms silence is honoured, and
audio counts towards the positions while turn detection is off.
"""

from __future__ import annotations

import asyncio

import pytest

from voicewire.protocol import (
    AudioInputAppend,
    AudioInputCommit,
    ConnectOptions,
    ServerEvent,
    SessionConfig,
    SessionUpdate,
    SpeechStarted,
    SpeechStopped,
    TurnDetection,
)
from voicewire.testing import ScriptedConnection, ScriptedModel, TextReply, silence, tone

pytestmark = pytest.mark.timeout(10)


async def _connect(turn: TurnDetection) -> ScriptedConnection:
    model = ScriptedModel()
    model.script.default = TextReply("ok")
    config = SessionConfig(turn_detection=turn)
    return await model.connect(ConnectOptions(session_config=config))


async def _drain(connection: ScriptedConnection) -> list[ServerEvent]:
    await asyncio.sleep(0)
    events: list[ServerEvent] = []
    iterator = aiter(connection)
    while True:
        try:
            events.append(await asyncio.wait_for(anext(iterator), 0.2))
        except TimeoutError:
            return events


def _speech(events: list[ServerEvent]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for event in events:
        if isinstance(event, SpeechStarted):
            found.append(("started", event.audio_start_ms))
        elif isinstance(event, SpeechStopped):
            found.append(("stopped", event.audio_end_ms))
    return found


async def test_the_padded_start_stays_within_the_uncommitted_buffer() -> None:
    connection = await _connect(TurnDetection(create_response=False))
    connection.send(AudioInputAppend(silence(400)))
    connection.send(AudioInputCommit())
    connection.send(AudioInputAppend(tone(100) + silence(300)))
    assert _speech(await _drain(connection)) == [("started", 400), ("stopped", 700)]
    await connection.close()


async def test_a_manual_commit_ends_the_speech() -> None:
    connection = await _connect(TurnDetection(create_response=False))
    connection.send(AudioInputAppend(tone(200)))
    connection.send(AudioInputCommit())
    connection.send(AudioInputAppend(tone(100) + silence(300)))
    assert _speech(await _drain(connection)) == [
        ("started", 0),
        ("started", 200),
        ("stopped", 500),
    ]
    await connection.close()


async def test_zero_silence_and_audio_counted_while_detection_is_off() -> None:
    connection = await _connect(TurnDetection(mode="manual"))
    connection.send(AudioInputAppend(silence(500)))
    connection.send(AudioInputCommit())
    quick = TurnDetection(silence_duration_ms=0, prefix_padding_ms=0, create_response=False)
    connection.send(SessionUpdate(SessionConfig(turn_detection=quick)))
    connection.send(AudioInputAppend(tone(20) + silence(10)))
    assert _speech(await _drain(connection)) == [("started", 500), ("stopped", 530)]
    await connection.close()
