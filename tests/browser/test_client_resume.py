"""``RealtimeClient`` (voicewire.js) and the server's resume handle: the page asks for it
(``?voicewire_resume=1``), keeps the newest, and reconnects with it, so the server gives the
conversation back instead of the page replaying it; a close that says the session is over (1000,
1008) is not reconnected."""

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

from .conftest import PageProblems, browser_page, eventually
from .test_client import agent, scripted

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
        sent_before = sum(isinstance(e, ItemCreate) for e in model.received)

        await page.evaluate("window.voicewireDemo.client._ws.close(4000, 'network drop')")
        await page.wait_for_function(
            "window.statuses.join(',') === 'connecting,connected,reconnecting,connected'"
        )
        await eventually(lambda: served.server.sessions_served == 2, "no second session")
        assert served.server.metrics is not None
        assert 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0' in (
            served.server.metrics.render().decode()
        )
        # The server's session replayed the two items to the new model link; the page sent
        # no conversation.item.create of its own (it would have been a third and a fourth).
        await eventually(
            lambda: sum(isinstance(e, ItemCreate) for e in model.received) == sent_before + 2,
            lambda: f"item.create events: {model.received}",
        )
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
