"""A React app built by Vite from ``js/examples/react-app``, which depends on ``@voicewire/react``
and ``@voicewire/client`` as a user's app would (npm workspace), served beside a voicewire server
and driven in Chromium with a WAV as its microphone: connect with a credential from
``POST /realtime/credential``, speak and see the transcript, mute and unmute, type a message,
and come back after the server closes the session (1012), with no console error.

``make js-test`` (run by ``make test``) builds the app; this test only serves ``dist/``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from voicewire import RealtimeAgent
from voicewire.server import create_app
from voicewire.testing import AudioReply, ScriptedModel, TextReply

from .conftest import browser_page, eventually

HEARD = "what is the weather like today"
REPLY = "It is sunny and warm today."
JOKE = "Why did the scarecrow win an award?"
LATER = "Still sunny."

# The status line's every value, in order, as the user saw it (the app itself is not touched).
WATCH_STATUS = """() => {
  const node = document.querySelector("#status");
  window.statuses = [node.textContent];
  new MutationObserver(() => {
    if (window.statuses.at(-1) !== node.textContent) window.statuses.push(node.textContent);
  }).observe(node, { childList: true, characterData: true, subtree: true });
}"""


def scripted() -> ScriptedModel:
    model = ScriptedModel(model_id="scripted-realtime")
    model.script.input_transcript = HEARD
    model.script.default = AudioReply(REPLY, duration_ms=600, chunk_ms=40)
    model.script.on("joke", AudioReply(JOKE, duration_ms=400, chunk_ms=40))
    model.script.on("still", TextReply(LATER))
    return model


async def lines(page: Page, role: str) -> list[str]:
    return await page.locator(f"#transcript li.{role}").all_text_contents()


async def steady(read: Callable[[], int], label: str) -> int:
    """Wait until ``read()`` stops changing (frames in flight have landed); return its value."""
    last = -1
    for _ in range(100):
        now = read()
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.3)
    raise AssertionError(f"{label} never stopped growing")


async def test_react_app_built_by_vite_talks_mutes_types_and_survives_a_reconnect(
    react_app_dist: Path, speech_wav: Path
) -> None:
    model = scripted()
    app = create_app(RealtimeAgent(id="demo", name="Demo", instructions="Be brief."), model)
    app.router.routes.append(Mount("/app", StaticFiles(directory=react_app_dist, html=True)))
    async with browser_page(app, speech_wav, "/app/") as (served, page, problems):
        status = page.locator("#status")
        await status.get_by_text("disconnected").wait_for()
        await page.evaluate(WATCH_STATUS)

        # Start: a credential from POST /realtime/credential, the microphone, the session.
        await page.click("#start")
        await status.get_by_text("connected", exact=True).wait_for()
        await eventually(lambda: served.server.active_sessions == 1, "no session on the server")

        # Speak (the WAV): the user's words and the agent's reply appear in the transcript.
        await page.locator("#transcript li.user").get_by_text(HEARD).wait_for()
        await page.locator("#transcript li.assistant").get_by_text(REPLY).wait_for()
        assert model.input_audio_bytes > 24000 * 2  # over a second of the tone reached the model

        # Mute: no audio reaches the server any more; unmute: it flows again.
        await page.click("#mute")
        await page.locator("#muted").get_by_text("true").wait_for()
        received = await steady(lambda: model.input_audio_bytes, "audio while muted")
        await asyncio.sleep(0.6)
        assert model.input_audio_bytes == received, "audio reached the server while muted"
        await page.click("#mute")
        await page.locator("#muted").get_by_text("false").wait_for()
        await eventually(
            lambda: model.input_audio_bytes > received + 9600, "no audio after unmuting"
        )

        # Type a message: it and its answer appear.
        await page.fill("#message", "tell me a joke")
        await page.click("#send")
        await page.locator("#transcript li.user").get_by_text("tell me a joke").wait_for()
        await page.locator("#transcript li.assistant").get_by_text(JOKE).wait_for()

        # The server closes the session (service restart): the app reconnects by itself.
        (relay,) = served.server.relays
        relay.end(1012, "server restarting: reconnect")
        seen = "disconnected,connecting,connected,reconnecting,connected"
        await page.wait_for_function(f"window.statuses.join(',') === '{seen}'")
        await eventually(lambda: served.server.sessions_served == 2, "no second session")
        # it came back with its resume handle: the server, not the page, restored the conversation
        assert served.server.metrics is not None
        resumed = 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0'
        assert resumed in served.server.metrics.render().decode()

        # ...and the conversation goes on, nothing lost or doubled.
        await page.fill("#message", "still there?")
        await page.click("#send")
        await page.locator("#transcript li.assistant").get_by_text(LATER).wait_for()
        assert await lines(page, "user") == [HEARD, "tell me a joke", "still there?"]
        assert await lines(page, "assistant") == [REPLY, JOKE, LATER]

        await page.click("#end")
        await status.get_by_text("disconnected").wait_for()
        await eventually(lambda: served.server.active_sessions == 0, "the session stayed open")
        assert await page.locator("#error").text_content() == ""
        problems.check()
