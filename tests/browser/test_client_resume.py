"""``RealtimeClient`` (voicewire.js) and the server's resume handle: the page asks for it
(``?voicewire_resume=1``), keeps the newest, and reconnects with it, so the server gives the
conversation back instead of the page replaying it; a close that says the session is over (1000,
1008) is not reconnected. A client given no ``getCredential`` reconnects the same way with the
credential it connected with, until that expires or the server refuses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.server.conftest import Served
from voicewire.protocol import ItemCreate
from voicewire.server import create_app
from voicewire.server.state import MemoryState
from voicewire.server.tokens import TokenAuthority
from voicewire.testing import ScriptedModel

from .conftest import PageProblems, browser_page, eventually
from .test_client import MINT, agent, scripted

STATUSES = (
    "window.statuses = []; window.errors = [];"
    " window.voicewireDemo.client.on('status', (s) => window.statuses.push(s));"
    " window.voicewireDemo.client.on('error', (e) => window.errors.push(e.code)); null"
)


@asynccontextmanager
async def started(wav: Path) -> AsyncIterator[tuple[Served, Page, PageProblems]]:
    """The demo page of a one-process server, its client connected and watched."""
    async with browser_page(create_app(agent(), scripted()), wav) as (served, page, problems):
        await page.evaluate(STATUSES)
        await page.click("#start")
        await page.locator("#status").get_by_text("connected", exact=True).wait_for()
        yield served, page, problems


async def test_a_dropped_connection_resumes_with_the_handle_and_replays_nothing(
    silent_wav: Path,
) -> None:
    model = scripted()
    async with browser_page(create_app(agent(), model), silent_wav) as (served, page, problems):
        await page.evaluate(STATUSES)
        await page.click("#start")
        await page.locator("#status").get_by_text("connected", exact=True).wait_for()
        await page.fill("#message", "remember the number seven")
        await page.click("#send")
        await page.locator(".line.assistant .text").get_by_text("Noted.").wait_for()
        handle = await page.evaluate("window.voicewireDemo.client.resumeHandle")
        assert isinstance(handle, str) and handle.startswith("vwr1.")
        await drop_and_see_it_resumed(served, page, model, "window.voicewireDemo.client")
        assert await page.evaluate("window.voicewireDemo.client.resumeHandle") == handle

        await page.fill("#message", "what was the number?")
        await page.click("#send")
        await page.locator(".line.assistant .text").nth(1).get_by_text("Noted.").wait_for()
        texts = await page.locator(".line .text").all_text_contents()
        assert texts == ["remember the number seven", "Noted.", "what was the number?", "Noted."]
        ids = await page.evaluate("window.voicewireDemo.client.transcript.map(e => e.itemId)")
        assert len(set(ids)) == 4 and not any("~" in i for i in ids), ids
        assert await page.evaluate("window.errors") == []
        problems.check()


async def drop_and_see_it_resumed(
    served: Served, page: Page, model: ScriptedModel, client: str
) -> None:
    """The network drops the page's ``client`` socket: it reconnects with its resume handle and
    the server's session gives the new model link the two items so far, the page none of its own
    (they would have been a third and a fourth conversation.item.create)."""
    sent_before = sum(isinstance(e, ItemCreate) for e in model.received)
    await page.evaluate(f"{client}._ws.close(4000, 'network drop')")
    await page.wait_for_function(
        "window.statuses.join(',') === 'connecting,connected,reconnecting,connected'"
    )
    await eventually(lambda: served.server.sessions_served == 2, "no second session")
    assert served.server.metrics is not None
    assert 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0' in (
        served.server.metrics.render().decode()
    )
    await eventually(
        lambda: sum(isinstance(e, ItemCreate) for e in model.received) == sent_before + 2,
        lambda: f"item.create events: {model.received}",
    )


@pytest.mark.parametrize(("code", "error"), [(1000, "session_ended"), (1008, "policy_violation")])
async def test_a_close_that_ends_the_session_is_not_reconnected(
    silent_wav: Path, code: int, error: str
) -> None:
    async with started(silent_wav) as (served, page, problems):
        (relay,) = served.server.relays
        relay.end(code, "ended by the test")
        await page.wait_for_function("window.statuses.at(-1) === 'disconnected'")
        assert await page.evaluate("window.statuses") == ["connecting", "connected", "disconnected"]
        assert await page.evaluate("window.errors") == [error]
        await page.wait_for_timeout(600)  # longer than the first reconnect delays
        assert served.server.sessions_served == 1
        assert await page.evaluate("window.voicewireDemo.client.resumeHandle") is None
        problems.check()


async def test_a_server_error_close_is_reconnected(silent_wav: Path) -> None:
    async with started(silent_wav) as (served, page, problems):
        (relay,) = served.server.relays
        relay.end(1011, "something broke")
        await page.wait_for_function(
            "window.statuses.join(',') === 'connecting,connected,reconnecting,connected'"
        )
        assert served.server.sessions_served == 2
        assert await page.evaluate("window.errors") == []
        problems.check()


async def test_a_resume_the_server_refuses_ends_in_a_replay_of_the_conversation(
    silent_wav: Path,
) -> None:
    """The browser cannot tell a refused resume from a server not back yet: it tries the handle,
    and its last attempt starts a new session and replays what it shows."""
    async with started(silent_wav) as (served, page, problems):
        await page.fill("#message", "remember the number seven")
        await page.click("#send")
        await page.locator(".line.assistant .text").get_by_text("Noted.").wait_for()
        served.server.resumer.state = MemoryState()  # the conversation is gone (another Redis)

        await page.evaluate("window.voicewireDemo.client._ws.close(4000, 'network drop')")
        await page.wait_for_function(
            "window.statuses.join(',') === 'connecting,connected,reconnecting,connected'",
            timeout=20_000,
        )
        assert served.server.metrics is not None
        scraped = served.server.metrics.render().decode()
        assert 'voicewire_sessions_resumed_total{outcome="refused"} 4.0' in scraped
        assert served.server.sessions_served == 2
        await page.fill("#message", "what was the number?")
        await page.click("#send")
        await page.locator(".line.assistant .text").nth(1).get_by_text("Noted.").wait_for()
        texts = await page.locator(".line .text").all_text_contents()
        assert texts == ["remember the number seven", "Noted.", "what was the number?", "Noted."]
        # the refused handshakes (404), as Chromium logs them; nothing else
        problems.errors = [e for e in problems.errors if "Unexpected response code: 404" not in e]
        assert await page.evaluate("window.errors") == []
        problems.check()


# A text-only client of /static/voicewire.js connected WITHOUT getCredential, watched.
PLAIN = """async (credential) => {
  const { RealtimeClient } = await import("/static/voicewire.js");
  const client = (window.plain = new RealtimeClient({ channel: null }));
  window.statuses = [];
  window.errors = [];
  client.on("status", (s) => window.statuses.push(s));
  client.on("error", (e) => window.errors.push(`${e.code}: ${e.message}`));
  await client.connect(credential);
  return client.status;
}"""
TEXTS = "window.plain.transcript.map((e) => e.text)"


@asynccontextmanager
async def plain_client(
    wav: Path, credential: str = "c => c"
) -> AsyncIterator[tuple[Served, Page, PageProblems, ScriptedModel]]:
    """A server and a page whose client connected with a minted credential (``credential``
    rewrites it in the page) and no getCredential, and told the server one thing."""
    model = scripted()
    async with browser_page(create_app(agent(), model), wav) as (served, page, problems):
        minted = await page.evaluate(MINT)
        status = await page.evaluate(f"c => ({PLAIN})(({credential})(c))", minted)
        assert status == "connected"
        await page.evaluate("window.plain.sendMessage('remember the number seven')")
        await page.wait_for_function(f"{TEXTS}.join('|') === 'remember the number seven|Noted.'")
        yield served, page, problems, model


async def test_a_client_without_get_credential_reconnects_with_its_credential(
    silent_wav: Path,
) -> None:
    async with plain_client(silent_wav) as (served, page, problems, model):
        await drop_and_see_it_resumed(served, page, model, "window.plain")
        await page.evaluate("window.plain.sendMessage('what was the number?')")
        await page.wait_for_function(f"{TEXTS}.length === 4 && {TEXTS}[3] === 'Noted.'")
        assert await page.evaluate(TEXTS) == [
            "remember the number seven",
            "Noted.",
            "what was the number?",
            "Noted.",
        ]
        assert await page.evaluate("window.errors") == []
        problems.check()


async def test_a_credential_that_expired_is_not_reused(silent_wav: Path) -> None:
    """The page says the credential expires in a second (the server would still take it): a drop
    after that ends the session with credential_expired, and no attempt is made."""
    expiring = "c => ({...c, expiresAt: (window.expiry = new Date(Date.now() + 1000))})"
    async with plain_client(silent_wav, expiring) as (served, page, problems, _):
        await page.wait_for_function("Date.now() > window.expiry.getTime()")
        await page.evaluate("window.plain._ws.close(4000, 'network drop')")
        await page.wait_for_function("window.statuses.at(-1) === 'disconnected'")
        assert await page.evaluate("window.statuses") == ["connecting", "connected", "disconnected"]
        (error,) = await page.evaluate("window.errors")
        assert error.startswith("credential_expired: the connection was lost (code 4000")
        assert "a fresh credential is needed" in error and "getCredential" in error
        await page.wait_for_timeout(600)  # longer than the first reconnect delays
        assert served.server.sessions_served == 1
        problems.check()


async def test_a_credential_the_server_now_refuses_is_not_retried_forever(
    silent_wav: Path,
) -> None:
    """The server no longer knows the token's key (a restart with a new secret): each attempt is
    refused with HTTP 401, which the browser only sees as 1006; the tries end with the last
    delay, and the error says to pass getCredential."""
    async with plain_client(silent_wav) as (served, page, problems, _):
        served.server.tokens = TokenAuthority()
        await page.evaluate("window.plain._ws.close(4000, 'network drop')")
        await page.wait_for_function("window.statuses.at(-1) === 'disconnected'", timeout=20_000)
        statuses = await page.evaluate("window.statuses")
        assert statuses == ["connecting", "connected", "reconnecting", "disconnected"]
        (error,) = await page.evaluate("window.errors")
        assert error.startswith("connection_lost: the connection was lost (code 4000")
        assert "getCredential" in error
        assert served.server.sessions_served == 1
        # Chromium logs each refused handshake itself; nothing else may be an error.
        refused = [e for e in problems.errors if "HTTP Authentication failed" in e]
        assert len(refused) == 5, problems.errors
        problems.errors = [e for e in problems.errors if e not in refused]
        problems.check()
