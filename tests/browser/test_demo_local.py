"""The demo page on the offline local model, in headless Chromium: words spoken right after Start,
while the model's session is still starting, are transcribed whole (real whisper, no script)."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.providers.local.conftest import MISSING, PHRASES, Speech, missing_local_extra, words
from voicewire import RealtimeAgent
from voicewire.protocol import ClientCredential, ConnectOptions, RealtimeConnection, RealtimeModel
from voicewire.server import create_app

from .conftest import browser_page, eventually

pytestmark = pytest.mark.timeout(120)


class SlowToStart:
    """``model``, taking ``delay`` seconds more to start each session: the local model's first
    session takes seconds (models load), later ones do not; this keeps the test's premise."""

    def __init__(self, model: RealtimeModel, delay: float) -> None:
        self.model = model
        self.delay = delay

    @property
    def provider(self) -> str:
        return self.model.provider

    @property
    def model_id(self) -> str:
        return self.model.model_id

    async def connect(self, options: ConnectOptions | None = None) -> RealtimeConnection:
        await asyncio.sleep(self.delay)
        return await self.model.connect(options)

    async def authenticate(self) -> ClientCredential:
        return await self.model.authenticate()


@pytest.fixture(scope="module")
def spoken_right_away(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The question, 0.3 s after the microphone opens, then 1.5 s of silence (16-bit mono)."""
    if MISSING:
        missing_local_extra()
    speech = Speech(tmp_path_factory.mktemp("speech"))
    rate = speech.tts.sample_rate
    samples = np.concatenate(
        [
            np.zeros(int(0.3 * rate), np.int16),
            speech.samples("capital"),
            np.zeros(int(1.5 * rate), np.int16),
        ]
    )
    path = speech.root / "capital-right-away.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


async def test_words_spoken_right_after_start_are_transcribed_whole(
    spoken_right_away: Path,
) -> None:
    from voicewire.providers import local

    model = local.realtime()
    await model.load()
    agent = RealtimeAgent(id="demo", name="Demo", instructions="Answer in one short sentence.")
    app = create_app(agent, SlowToStart(model, 1.5))
    async with browser_page(app, spoken_right_away) as (served, page, problems):
        await page.click("#start")
        user_line = page.locator(".line.user .text").first
        await user_line.wait_for(timeout=30_000)
        await page.wait_for_function(
            "window.voicewireDemo.client.transcript.some((e) => e.role === 'user' && e.text)"
        )
        await page.locator(".line.assistant .text").first.wait_for(timeout=30_000)
        heard = await user_line.text_content()
        assert words(heard or "") == words(PHRASES["capital"])
        assert await page.evaluate("window.voicewireDemo.client.audioBytesDropped") == 0
        await page.click("#end")
        await eventually(lambda: served.server.active_sessions == 0, "the session stayed open")
        problems.check()
