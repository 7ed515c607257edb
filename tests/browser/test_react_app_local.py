"""The Vite-built React example app (see test_react_app.py) on the offline local model, in
headless Chromium: real speech (piper) is transcribed by whisper and answered, mute and unmute,
a typed message is answered, and the conversation goes on after the server closes the session
(1012): the app reconnects with its resume handle."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.providers.local.conftest import MISSING, PHRASES, Speech, missing_local_extra, words
from voicewire import RealtimeAgent
from voicewire.server import create_app

from .conftest import browser_page, eventually
from .test_react_app import WATCH_STATUS, lines, steady

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.5 s of silence, the question, 2 s of silence (16-bit mono, piper's rate)."""
    if MISSING:
        missing_local_extra()
    speech = Speech(tmp_path_factory.mktemp("speech"))
    rate = speech.tts.sample_rate
    silence = np.zeros(int(0.5 * rate), np.int16)
    samples = np.concatenate([silence, speech.samples("capital"), silence, silence, silence])
    path = speech.root / "capital.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


async def test_react_app_on_the_local_model(react_app_dist: Path, spoken: Path) -> None:
    from voicewire.providers import local

    model = local.realtime()
    await model.load()
    agent = RealtimeAgent(id="demo", name="Demo", instructions="Answer in one short sentence.")
    app = create_app(agent, model)
    app.router.routes.append(Mount("/app", StaticFiles(directory=react_app_dist, html=True)))
    async with browser_page(app, spoken, "/app/") as (served, page, problems):
        page.set_default_timeout(45_000)
        await page.evaluate(WATCH_STATUS)
        await page.click("#start")
        await page.locator("#status").get_by_text("connected", exact=True).wait_for()

        # What was said is transcribed whole, and answered.
        await page.locator("#transcript li.user").first.wait_for()
        await page.locator("#transcript li.assistant").first.wait_for()
        assert [words(line) for line in await lines(page, "user")] == [words(PHRASES["capital"])]

        # Mute: nothing more reaches the server (no frame at all); unmute.
        (relay,) = served.server.relays
        await page.click("#mute")
        await page.locator("#muted").get_by_text("true").wait_for()
        frames = await steady(lambda: relay.frames_in, "frames while muted")
        await asyncio.sleep(0.6)
        assert relay.frames_in == frames, "audio reached the server while muted"
        await page.click("#mute")
        await page.locator("#muted").get_by_text("false").wait_for()
        await eventually(lambda: relay.frames_in > frames, "no audio after unmuting")

        # A typed message is answered (the model's own words: only that there are some).
        await page.fill("#message", "And what is the capital of Italy?")
        await page.click("#send")
        await page.wait_for_function(
            "document.querySelectorAll('#transcript li.assistant').length === 2"
        )

        # The server closes the session (service restart): the app comes back by itself.
        relay.end(1012, "server restarting: reconnect")
        seen = "disconnected,connecting,connected,reconnecting,connected"
        await page.wait_for_function(f"window.statuses.join(',') === '{seen}'")
        await page.fill("#message", "Thank you.")
        await page.click("#send")
        await page.wait_for_function(
            "document.querySelectorAll('#transcript li.assistant').length === 3"
        )
        users = await lines(page, "user")
        assert [words(u) for u in users[1:]] == ["and what is the capital of italy", "thank you"]
        assert all(text.strip() for text in await lines(page, "assistant"))

        await page.click("#end")
        await eventually(lambda: served.server.active_sessions == 0, "the session stayed open")
        problems.check()
