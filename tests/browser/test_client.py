"""``RealtimeClient`` edge cases in the browser: credentials (expired, as Date or string,
refused), and a dropped connection that comes back (status 'reconnecting', the conversation
resumed by its handle)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from voicewire import RealtimeAgent
from voicewire.protocol import ItemCreate, MessageItem, TextPart
from voicewire.server import create_app
from voicewire.testing import AudioReply, FakeRealtimeServer, ScriptedModel, TextReply

from .conftest import browser_page, eventually, quiet, speech_like, write_wav

CONNECT = """async (credential) => {
  const client = window.voicewireDemo.client;
  try {
    await client.connect(credential);
    return { ok: true, status: client.status };
  } catch (err) {
    return { ok: false, code: err.code, message: err.message, status: client.status };
  }
}"""

MINT = """async () => {
  const response = await fetch("/realtime/credential", { method: "POST" });
  return (await response.json()).credential;
}"""


def scripted() -> ScriptedModel:
    model = ScriptedModel(model_id="scripted-realtime")
    model.script.default = TextReply("Noted.")
    return model


def agent() -> RealtimeAgent:
    return RealtimeAgent(id="demo", name="Demo", instructions="Be brief.")


async def test_credentials_are_checked_before_and_by_the_server(silent_wav: Path) -> None:
    async with browser_page(create_app(agent(), scripted()), silent_wav) as (
        served,
        page,
        problems,
    ):
        minted: dict[str, Any] = await page.evaluate(MINT)
        assert minted["kind"] == "token" and minted["expiresAt"]

        # expired: refused in the page, whether expiresAt is a string or a Date
        expired = {**minted, "expiresAt": "2001-01-01T00:00:00Z"}
        result = await page.evaluate(CONNECT, expired)
        assert result == {
            "ok": False,
            "code": "credential_expired",
            "message": result["message"],
            "status": "disconnected",
        }
        result = await page.evaluate(
            "async (c) => { const client = window.voicewireDemo.client;"
            " try { await client.connect({...c, expiresAt: new Date(Date.now() - 1000)}); }"
            " catch (e) { return e.code; } }",
            minted,
        )
        assert result == "credential_expired"
        assert served.server.sessions_served == 0

        # a Date in the future is fine
        result = await page.evaluate(
            "async (c) => { const client = window.voicewireDemo.client;"
            " await client.connect({...c, expiresAt: new Date(c.expiresAt)});"
            " const status = client.status; client.disconnect();"
            " return [status, client.status]; }",
            minted,
        )
        assert result == ["connected", "disconnected"]
        await eventually(lambda: served.server.active_sessions == 0, "session left open")

        # a forged token: the server refuses the handshake, the client says so
        forged = {**minted, "token": minted["token"][:-4] + "AAAA"}
        result = await page.evaluate(CONNECT, forged)
        assert result["ok"] is False and result["code"] == "connection_refused"
        assert result["status"] == "disconnected"
        assert served.server.sessions_served == 1
        # Chromium logs the refused handshake itself; nothing else may be an error.
        problems.errors = [
            e
            for e in problems.errors
            if "/v1/realtime?voicewire_resume=1' failed: HTTP Authentication" not in e
        ]
        problems.check()


async def test_a_dropped_connection_resumes_the_conversation_by_its_handle(
    silent_wav: Path,
) -> None:
    """The page reconnects with its resume handle and replays nothing: the server gives the new
    model connection the conversation once (the user's words and the reply, neither doubled),
    counts a resume, and the conversation goes on with each line once in the page."""
    model = scripted()
    async with browser_page(create_app(agent(), model), silent_wav) as (served, page, problems):
        await page.evaluate(
            "window.statuses = [];"
            " window.voicewireDemo.client.on('status', (s) => window.statuses.push(s)); null"
        )
        await page.click("#start")
        await page.locator("#status").get_by_text("connected", exact=True).wait_for()
        await page.fill("#message", "remember the number seven")
        await page.click("#send")
        await page.locator(".line.assistant .text").get_by_text("Noted.").wait_for()

        # the network drops the socket (not the user): the page gets a new credential
        await page.evaluate("window.voicewireDemo.client._ws.close(4000, 'network drop')")
        await page.wait_for_function(
            "window.statuses.join(',') === 'connecting,connected,reconnecting,connected'"
        )
        await eventually(lambda: served.server.sessions_served == 2, "no second session")
        await eventually(lambda: len(model.connections) == 1, "the first session stayed open")
        assert served.server.metrics is not None
        resumed = 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0'
        assert resumed in served.server.metrics.render().decode()
        # the first model connection got the message; the second, the conversation restored
        given = [
            (e.item.role, "".join(p.text for p in e.item.content if isinstance(p, TextPart)))
            for e in model.received
            if isinstance(e, ItemCreate) and isinstance(e.item, MessageItem)
        ]
        assert given == [
            ("user", "remember the number seven"),
            ("user", "remember the number seven"),
            ("assistant", "Noted."),
        ], given

        # and the conversation goes on
        await page.fill("#message", "what was the number?")
        await page.click("#send")
        await page.locator(".line.user .text").get_by_text("what was the number?").wait_for()
        await page.locator(".line.assistant .text").nth(1).get_by_text("Noted.").wait_for()
        texts = await page.locator(".line .text").all_text_contents()
        assert texts == [
            "remember the number seven",
            "Noted.",
            "what was the number?",
            "Noted.",
        ]
        ids = await page.evaluate("window.voicewireDemo.client.transcript.map(e => e.itemId)")
        assert len(set(ids)) == 4, ids
        problems.check()


DIRECT = """async ({ url, secret }) => {
  const { RealtimeClient } = await import("/static/voicewire.js");
  const client = new RealtimeClient({
    url,
    agent: { instructions: "Be brief.", voice: "marin" },
    session: { audio: { input: { transcription: { model: "gpt-4o-mini-transcribe" } } } },
  });
  window.direct = client;
  await client.connect(secret);
  return client.status;
}"""


async def test_the_client_speaks_openai_ga_to_an_openai_style_server(speech_wav: Path) -> None:
    # What the browser would get from POST /v1/realtime/client_secrets (epoch-seconds expiry).
    secret = {"value": "ek_browser_test", "expires_at": int(time.time()) + 600}
    async with FakeRealtimeServer(dialect="openai", api_key="sk-never-in-the-page") as openai:
        openai.valid_tokens.add(secret["value"])
        openai.script.input_transcript = "hello there"
        openai.script.default = AudioReply("Hi! How can I help?", duration_ms=600, chunk_ms=40)
        app = create_app(agent(), scripted())
        async with browser_page(app, speech_wav) as (_, page, problems):
            status = await page.evaluate(DIRECT, {"url": openai.url(), "secret": secret})
            assert status == "connected"
            lines = "window.direct.transcript.map(e => `${e.role}: ${e.text}`).join('|')"
            await page.wait_for_function(
                f"{lines} === 'user: hello there|assistant: Hi! How can I help?'", timeout=10_000
            )
            await page.wait_for_function("window.direct.channel.totalPlayedMs() > 300")
            await page.evaluate("window.direct.sendMessage('And the time?')")
            await page.wait_for_function(
                f"{lines}.endsWith('user: And the time?|assistant: Hi! How can I help?')"
            )
            await page.evaluate("window.direct.disconnect()")

            types = [event["type"] for event in openai.received]
            assert types[0] == "session.update"
            assert {
                "input_audio_buffer.append",
                "conversation.item.create",
                "response.create",
            } <= set(types)
            session = openai.received[0]["session"]
            assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
            assert session["instructions"] == "Be brief."
            assert session["audio"]["output"]["voice"] == "marin"
            # every client event validated strictly against the openai SDK's own types
            assert openai.violations == []
            assert openai.errors == []
            assert len(openai.input_audio) > 24000 * 2  # over a second of 24 kHz PCM16
            problems.check()


BOUNDED = """async ({ credential, backlogMs }) => {
  const { RealtimeClient } = await import("/static/voicewire.js");
  const client = (window.bounded = new RealtimeClient({ backlogMs }));
  const limit = Math.round((backlogMs / 1000) * 24000) * 2;
  // every byte captured, and the latest frames captured while connecting (up to the bound)
  const seen = (window.boundedSeen = { bytes: 0, latest: [] });
  client.channel.on("audio", (frame) => {
    if (client.status === "disconnected") return;
    seen.bytes += frame.byteLength;
    if (client.status !== "connecting") return;
    seen.latest.push(new Uint8Array(frame.slice(0)));
    while (seen.latest.reduce((n, f) => n + f.length, 0) > limit) seen.latest.shift();
  });
  await client.connect(credential);
  return client.status;
}"""


async def test_audio_kept_while_connecting_is_bounded_and_what_is_dropped_is_counted(
    wav_dir: Path,
) -> None:
    # The model takes a second to start; the client keeps only the latest 200 ms meanwhile.
    wav = write_wav(wav_dir / "long.wav", np.concatenate([quiet(0.3), speech_like(3), quiet(1.5)]))
    model = scripted()
    model.connect_delay = 1.0
    async with browser_page(create_app(agent(), model), wav) as (_, page, problems):
        credential = await page.evaluate(MINT)
        status = await page.evaluate(BOUNDED, {"credential": credential, "backlogMs": 200})
        assert status == "connected"
        await eventually(lambda: model.connections, "no model session")
        connection = model.connections[0]
        await eventually(lambda: connection.committed, "no user turn was committed")
        await page.evaluate("window.bounded.disconnect()")
        sent, dropped, captured, latest = await page.evaluate(
            "[window.bounded.audioBytesSent, window.bounded.audioBytesDropped,"
            " window.boundedSeen.bytes, window.boundedSeen.latest.flatMap((f) => [...f])]"
        )
        # The oldest went: the model heard the latest 200 ms captured while connecting first,
        # then the rest; every byte captured was either sent or counted as dropped.
        assert dropped > 0 and len(latest) == 9600
        assert connection.committed[0].startswith(bytes(latest))
        assert sent + dropped == captured, (sent, dropped, captured)
        await eventually(lambda: model.input_audio_bytes == sent, "sent audio never arrived")
        problems.check()
