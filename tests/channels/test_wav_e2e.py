"""WavChannel end to end: a WAV speaks to a session on the fake realtime server, and the reply is
recorded to a WAV."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from voicewire import RealtimeAgent, RealtimeSession
from voicewire.channels import WavChannel
from voicewire.providers import openai
from voicewire.testing import AudioReply, FakeRealtimeServer, tone

pytestmark = pytest.mark.timeout(20)

AGENT = RealtimeAgent(id="wav-test", name="WAV tester", instructions="Be brief.")


async def test_a_wav_file_talks_to_the_session_and_the_reply_is_recorded(tmp_path: Path) -> None:
    input_wav, output_wav = tmp_path / "question.wav", tmp_path / "answer.wav"
    with wave.open(str(input_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24000)
        out.writeframes(tone(300, amplitude=0.5))

    async with FakeRealtimeServer(dialect="openai", api_key="sk-test") as server:
        server.script.default = AudioReply("Hi there.", duration_ms=400)
        model = openai.realtime(api_key="sk-test", base_url=server.base_url)
        channel = WavChannel(input_wav, output_wav, realtime=False)
        async with RealtimeSession(AGENT, model=model, channel=channel) as session:
            seen: list[str] = []

            async def reply_done() -> None:
                async for event in session:
                    seen.append(event.kind)
                    if event.kind == "response.done":
                        return

            await asyncio.wait_for(reply_done(), timeout=10)
            await channel.wait_sent()
        assert server.violations == []

    assert seen.index("speech.started") < seen.index("speech.stopped") < seen.index("response.done")
    assert "audio.output.delta" in seen
    assert len(server.input_audio) == (300 + 800) * 48  # the file, then the trailing silence
    assert channel.reply_ms == 400
    with wave.open(str(output_wav), "rb") as written:
        assert (written.getnchannels(), written.getsampwidth()) == (1, 2)
        assert written.getframerate() == 24000
        assert written.getnframes() * 1000 / 24000 == 400
