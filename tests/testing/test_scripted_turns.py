"""The scripted model's turn rules are the fake server's: one energy VAD decides both.

Where the two fakes differed before they shared the detector, these pin the behaviour kept (the
fake server's, which is OpenAI's): the padded start never reaches back before the uncommitted
buffer, a manual commit ends the speech it committed, an explicit 0 ms silence is honoured, and
audio counts towards the positions while turn detection is off.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from websockets.asyncio.client import connect

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
from voicewire.testing import (
    FakeRealtimeServer,
    ScriptedConnection,
    ScriptedModel,
    TextReply,
    silence,
    tone,
)

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


async def _fake_server_speech(pcm: bytes) -> list[tuple[str, int]]:
    async with (
        FakeRealtimeServer(api_key="sk-test") as server,
        connect(server.url(), additional_headers={"Authorization": "Bearer sk-test"}) as ws,
    ):
        audio = base64.b64encode(pcm).decode()
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        found: list[tuple[str, int]] = []
        while len(found) < 4:
            event = json.loads(await ws.recv())
            if event["type"] == "input_audio_buffer.speech_started":
                found.append(("started", event["audio_start_ms"]))
            elif event["type"] == "input_audio_buffer.speech_stopped":
                found.append(("stopped", event["audio_end_ms"]))
        return found


async def test_the_scripted_model_hears_what_the_fake_server_hears() -> None:
    pcm = silence(430) + tone(310) + silence(260) + tone(50) + silence(200)
    connection = await _connect(TurnDetection(create_response=False))
    connection.send(AudioInputAppend(pcm))
    scripted = _speech(await _drain(connection))
    await connection.close()
    assert scripted == [("started", 130), ("stopped", 940), ("started", 940), ("stopped", 1250)]
    assert scripted == await _fake_server_speech(pcm)
