"""The demo page at ``/`` in headless Chromium, a WAV file as its microphone, a scripted model
behind the server: speech reaches the session, the transcript and the spoken reply appear and
play, mute stops the audio, a typed message gets an answer, End disconnects."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from voicewire import RealtimeAgent
from voicewire.protocol import ItemTruncate
from voicewire.server import create_app
from voicewire.testing import AudioReply, ScriptedConnection, ScriptedModel

from .conftest import browser_page, eventually, quiet, screenshot_path, speech_like, write_wav

HEARD = "what is the weather like today"
REPLY = "It is sunny and warm today."
JOKE = "Why did the scarecrow win an award?"
STORY = "Once upon a time there was a very long story that nobody heard to the end."


def agent() -> RealtimeAgent:
    return RealtimeAgent(id="demo", name="Demo", instructions="Be brief.")


def scripted() -> ScriptedModel:
    model = ScriptedModel(model_id="scripted-realtime")
    model.script.input_transcript = HEARD
    model.script.default = AudioReply(REPLY, duration_ms=1500, chunk_ms=40)
    model.script.on("joke", AudioReply(JOKE, duration_ms=800, chunk_ms=40))
    return model


def loud_frames(pcm: bytes, rate: int = 24000, frame_ms: int = 10) -> np.ndarray:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    size = rate * frame_ms // 1000
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    return np.sqrt((frames**2).mean(axis=1)) >= 0.02


def dominant_frequency(pcm: bytes, rate: int = 24000) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def assert_whole_tone(turn: bytes, seconds: float = 1.5) -> None:
    """``turn`` holds the whole ``seconds`` of the 440 Hz tone of :func:`speech_like`, at its
    pitch. Its loud span is measured in samples, not in wall-clock time; it has no upper bound,
    as a loaded machine may make Chromium insert 10 ms glitches, but a lost start loses hundreds
    of milliseconds (its 20 ms fades take one window at each end)."""
    loud = loud_frames(turn)
    assert loud.any(), "the committed user turn is silent"
    first, last = np.flatnonzero(loud)[[0, -1]]
    span_ms = int(last - first + 1) * 10
    assert span_ms >= seconds * 1000 - 60, f"loud for {span_ms} ms of a {seconds} s tone"
    start = int(first) * 480
    middle = turn[start + 9600 : start + 9600 + 24000]
    assert abs(dominant_frequency(middle) - 440) < 8, dominant_frequency(middle)


async def test_demo_page_talks_to_the_agent(speech_wav: Path) -> None:
    model = scripted()
    async with browser_page(create_app(agent(), model), speech_wav) as (served, page, problems):
        assert await page.title() == "voicewire demo"
        status = page.locator("#status")
        await status.get_by_text("disconnected").wait_for()

        # Start: a credential from POST /realtime/credential, the microphone, the session.
        await page.click("#start")
        await page.wait_for_function(
            "document.querySelector('#status').textContent === 'connected'"
        )
        rate = await page.evaluate("window.voicewireDemo.client.channel.sampleRate")
        assert rate > 0
        await eventually(lambda: model.connections, "the server opened no model session")
        connection: ScriptedConnection = model.connections[0]

        # The speech reaches the session: the VAD commits a turn with real energy in it.
        await eventually(
            lambda: connection.committed, "no user turn was committed (silence?)", within=8
        )
        turn = connection.committed[0]
        loud = loud_frames(turn)
        assert loud.any(), "the committed user turn is silent"
        # 1.5 s of tone, resampled from the context's real rate: all of it arrives, at its
        # pitch (a wrong rate assumption would shift it by 8 % or more). Chromium's noise
        # suppression and gain control reshape the level, not the pitch.
        assert_whole_tone(turn)

        # The transcript and the reply appear; the reply plays.
        user_line = page.locator(".line.user .text").first
        await user_line.get_by_text(HEARD).wait_for()
        await page.locator(".line.assistant .text").get_by_text(REPLY).wait_for()
        # All of it is heard, and no more than was received.
        await page.wait_for_function("document.querySelector('#state').textContent === 'listening'")
        await page.wait_for_function("window.voicewireDemo.playedMs() >= 1499")
        played = await page.evaluate("window.voicewireDemo.playedMs()")
        assert played <= 1500, f"played {played} ms of a 1500 ms reply"

        # Mute: no audio reaches the server any more; unmute: it flows again.
        await page.click("#mute")
        await page.locator("#mute").get_by_text("Unmute").wait_for()
        await asyncio.sleep(0.15)  # frames already in flight
        received = model.input_audio_bytes
        sent = await page.evaluate("window.voicewireDemo.client.audioBytesSent")
        await asyncio.sleep(0.6)
        assert model.input_audio_bytes == received, "audio reached the server while muted"
        assert await page.evaluate("window.voicewireDemo.client.audioBytesSent") == sent
        await page.click("#mute")
        await eventually(
            lambda: model.input_audio_bytes > received + 9600, "no audio after unmuting"
        )

        # A typed message gets its own answer.
        await page.fill("#message", "Tell me a joke")
        await page.click("#send")
        await page.locator(".line.user .text").get_by_text("Tell me a joke").wait_for()
        await page.locator(".line.assistant .text").get_by_text(JOKE).wait_for()
        await page.wait_for_function("window.voicewireDemo.playedMs() > 1500")
        texts = await page.locator(".line .text").all_text_contents()
        assert texts == [HEARD, REPLY, "Tell me a joke", JOKE]

        await page.screenshot(path=str(screenshot_path("browser-demo.png")))

        # End: the page disconnects and the server closes the session.
        await page.click("#end")
        await page.wait_for_function(
            "document.querySelector('#status').textContent === 'disconnected'"
        )
        assert await page.evaluate("window.voicewireDemo.client.status") == "disconnected"
        await eventually(
            lambda: served.server.active_sessions == 0 and not model.connections,
            "the server kept the session open",
            within=5,
        )
        problems.check()


async def test_speaking_over_the_reply_interrupts_it(wav_dir: Path) -> None:
    # two utterances; the second starts while the (real-time paced) reply to the first plays
    samples = np.concatenate(
        [quiet(0.5), speech_like(1.0), quiet(1.2), speech_like(0.8), quiet(1.5)]
    )
    wav = write_wav(wav_dir / "barge-in.wav", samples)
    model = scripted()
    model.script.hear("tell me a long story", "actually never mind")
    model.script.on("story", AudioReply(STORY, duration_ms=4000, chunk_ms=40, pace=0.04))
    model.script.default = AudioReply("Okay.", duration_ms=400, chunk_ms=40)
    async with browser_page(create_app(agent(), model), wav) as (_, page, problems):
        await page.click("#start")
        await page.locator(".line.user .text").get_by_text("actually never mind").wait_for()
        await page.locator(".line.assistant .text").get_by_text("Okay.").wait_for()
        story = await page.evaluate(
            "window.voicewireDemo.client.transcript.find(e => e.role === 'assistant')"
        )
        # The page stopped the story where the speaker was and told the server so: part of
        # it was heard (the second utterance began about 0.9 s into its playback), not all.
        truncates = [
            e
            for e in model.received
            if isinstance(e, ItemTruncate) and e.item_id == story["itemId"]
        ]
        assert truncates, f"no conversation.item.truncate reached the model: {model.received}"
        heard = truncates[-1].audio_end_ms
        assert 0 < heard < 4000, f"truncated at {heard} ms of a 4000 ms story"
        played = await page.evaluate(
            f"window.voicewireDemo.client.channel.playedMs({story['itemId']!r})"
        )
        assert played == heard
        assert STORY.startswith(story["text"]) and len(story["text"]) < len(STORY)
        problems.check()


# Installed before Start: counts what the microphone captures while the client is connecting.
WATCH_CONNECTING = """() => {
  const client = window.voicewireDemo.client;
  const seen = (window.capturedWhileConnecting = { frames: 0, loud: 0 });
  client.channel.on("audio", (frame) => {
    if (client.status !== "connecting") return;
    const samples = new Int16Array(frame);
    seen.frames += 1;
    if (samples.some((s) => Math.abs(s) > 3000)) seen.loud += 1;
  });
}"""


async def test_words_spoken_while_the_session_starts_are_not_lost(wav_dir: Path) -> None:
    # The user speaks 0.3 s after pressing Start, while the server is still starting its model
    # session (session.created a second after the socket opens, as on the local model).
    wav = write_wav(
        wav_dir / "early.wav", np.concatenate([quiet(0.3), speech_like(1.5), quiet(1.5)])
    )
    model = scripted()
    model.connect_delay = 1.2
    async with browser_page(create_app(agent(), model), wav) as (_, page, problems):
        await page.evaluate(WATCH_CONNECTING)
        await page.click("#start")
        await page.wait_for_function(
            "document.querySelector('#status').textContent === 'connected'"
        )
        early = await page.evaluate("window.capturedWhileConnecting")
        assert early["loud"] > 0, f"the speech did not begin while connecting: {early}"

        await page.locator(".line.user .text").get_by_text(HEARD).wait_for()
        connection: ScriptedConnection = model.connections[0]
        # The first turn the model heard is the whole utterance, from its first word.
        assert_whole_tone(connection.committed[0])
        assert await page.evaluate("window.voicewireDemo.client.audioBytesDropped") == 0
        await page.locator(".line.assistant .text").get_by_text(REPLY).wait_for()
        await page.click("#end")
        await page.wait_for_function(
            "document.querySelector('#status').textContent === 'disconnected'"
        )
        sent = await page.evaluate("window.voicewireDemo.client.audioBytesSent")
        await eventually(lambda: model.input_audio_bytes == sent, "audio sent never arrived")
        problems.check()
