"""The end of the user's resampled audio reaches Gemini: the input resampler holds the last
20-60 ms until more comes, and when nothing more comes (a WAV file ends, the user waits for the
answer) the connection lets it out after a pause, or before the turn's end. Real WebSockets on
127.0.0.1 against the fake Gemini Live server, which records every input audio byte."""

from __future__ import annotations

import asyncio
import base64

import pytest

from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputCommit,
    ConnectOptions,
    SessionConfig,
    TurnDetection,
)
from voicewire.providers import gemini
from voicewire.providers.codec_connection import INPUT_RELEASE_AFTER_S
from voicewire.providers.gemini.client_codec import GeminiClientCodec
from voicewire.providers.gemini.turns import TurnState
from voicewire.testing import FakeGeminiServer

from .support import until

pytestmark = pytest.mark.timeout(30)

WIRE_BYTES_PER_MS = 16 * 2  # PCM16 at 16 kHz
QUIET = b"".join((20 * (i % 24 - 12)).to_bytes(2, "little", signed=True) for i in range(240))
"""10 ms at 24 kHz, too quiet for the fake's voice detection (no turn starts)."""
MANUAL = TurnDetection("manual")


async def test_every_sample_of_a_wav_like_input_arrives_once_after_a_pause() -> None:
    async with FakeGeminiServer(api_key="g-test") as server:
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        config = SessionConfig(input_audio_format=AudioFormat.pcm16(24000))
        connection = await model.connect(ConnectOptions(session_config=config))
        for _ in range(30):  # 300 ms in 10 ms chunks, then nothing
            connection.send(AudioInputAppend(QUIET))
        await until(lambda: len(server.input_audio) >= 300 * WIRE_BYTES_PER_MS)
        await asyncio.sleep(INPUT_RELEASE_AFTER_S * 2)  # a second release would come now
        assert len(server.input_audio) == 300 * WIRE_BYTES_PER_MS  # every sample, once
        for _ in range(10):  # the app speaks again: a fresh stream, its tail released too
            connection.send(AudioInputAppend(QUIET))
        await until(lambda: len(server.input_audio) >= 400 * WIRE_BYTES_PER_MS)
        await asyncio.sleep(INPUT_RELEASE_AFTER_S * 2)
        assert len(server.input_audio) == 400 * WIRE_BYTES_PER_MS
        await connection.close()
        assert server.violations == []


@pytest.mark.parametrize(
    ("turn", "end"), [(TurnDetection("server_vad"), "audioStreamEnd"), (MANUAL, "activityEnd")]
)
def test_the_held_tail_goes_before_the_end_of_the_turn(turn: TurnDetection, end: str) -> None:
    """A commit right after the audio: the tail is in the turn, not after its end."""
    config = SessionConfig(input_audio_format=AudioFormat.pcm16(24000), turn_detection=turn)
    codec = GeminiClientCodec(gemini.DEFAULT_MODEL, config, TurnState())
    frames = []
    for event in [*[AudioInputAppend(QUIET)] * 30, AudioInputCommit()]:
        encoded = codec.encode(event)
        assert encoded is not None
        frames += encoded.frames
    assert end in frames[-1]["realtimeInput"]
    audio = [f["realtimeInput"]["audio"]["data"] for f in frames if "audio" in f["realtimeInput"]]
    assert sum(len(base64.b64decode(a)) for a in audio) == 300 * WIRE_BYTES_PER_MS
    assert codec.send_idle_after() is None  # nothing held: no release after the pause
    assert codec.send_idle() == []
