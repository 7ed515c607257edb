"""No log record, at any level and from any logger, carries a provider key or a voicewire token:
the OpenAI provider dialing a fake server with DEBUG logging on, alone and behind the server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import websockets

from voicewire import RealtimeAgent
from voicewire.protocol import ConnectOptions, SessionConfig, SessionCreated
from voicewire.providers import openai
from voicewire.redaction import RedactingFilter
from voicewire.server import create_app
from voicewire.testing import FakeRealtimeServer, TextReply

from ..server.conftest import serve, user_text

pytestmark = pytest.mark.timeout(30)

KEY = "sk-test-LOGCANARY-0a1b2c3d4e5f"


class Everything(logging.Handler):
    """Keeps every record that reaches the root logger, formatted the way a handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def leaks(self, secret: str) -> list[str]:
        found = [line for line in self.lines if secret in line]
        for record in self.records:
            for text in (str(record.msg), repr(record.args), record.exc_text or ""):
                if secret in text:
                    found.append(f"{record.name}: {text}")
        return found


@contextmanager
def unprotected() -> Iterator[None]:
    """Every RedactingFilter off for the test (each test proves that its own path installs
    them), and back on after."""
    removed: list[tuple[logging.Logger, logging.Filter]] = []
    for logger in [logging.getLogger(name) for name in logging.root.manager.loggerDict]:
        for found in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(found)
            removed.append((logger, found))
    try:
        yield
    finally:
        for logger, found in removed:
            logger.addFilter(found)


@pytest.fixture
def logs() -> Iterator[Everything]:
    root = logging.getLogger()
    handler = Everything()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with unprotected():
            yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_the_provider_key_never_reaches_a_log(logs: Everything) -> None:
    async with FakeRealtimeServer(api_key=KEY) as fake:
        model = openai.realtime(api_key=KEY, base_url=fake.base_url)
        options = ConnectOptions(session_config=SessionConfig(instructions="Hi."))
        connection = await model.connect(options)
        async for event in connection:
            if isinstance(event, SessionCreated):
                break
        await connection.close()
    handshake = [
        r
        for r in logs.records
        if r.name == "websockets.client" and "Authorization" in r.getMessage()
    ]
    assert handshake, "the client handshake was logged (DEBUG reached the root handler)"
    assert logs.leaks(KEY) == []


async def test_neither_key_nor_token_reaches_a_log_through_the_server(logs: Everything) -> None:
    agent = RealtimeAgent(id="a", name="A", instructions="Answer.")
    async with FakeRealtimeServer(api_key=KEY) as fake:
        fake.script.default = TextReply("hello")
        model = openai.realtime(api_key=KEY, base_url=fake.base_url)
        async with serve(create_app(agent, model)) as served:
            token = served.token()
            headers = {"Authorization": f"Bearer {token}"}
            async with websockets.connect(served.ws_url, additional_headers=headers) as ws:
                await ws.send(json.dumps(user_text("hi")))
                await ws.send(json.dumps({"type": "response.create"}))
                while json.loads(await ws.recv())["type"] != "response.done":
                    pass
            await served.wait_idle()
    upstream = [r for r in logs.records if r.name == "websockets.client" and KEY[:7] in str(r.args)]
    assert fake.connection_count == 1 and not upstream
    assert logs.leaks(KEY) == [] and logs.leaks(token) == []
