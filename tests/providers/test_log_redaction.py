"""No log record, at any level and from any logger, carries a provider key or a voicewire token:
the OpenAI provider dialing a fake server with DEBUG logging on, alone and behind the server; keys
in URL queries, in tracebacks that handlers format themselves, in ``extra=`` fields, and in the
records of httpx, asyncio and every voicewire logger."""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import websockets

import voicewire
from voicewire import RealtimeAgent
from voicewire.protocol import ConnectOptions, SessionConfig, SessionCreated
from voicewire.providers import openai
from voicewire.redaction import LIBRARY_LOGGERS, RedactingFilter, protect_logs, redact
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


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (
            "GET /v1/convai/conversation?agent_id=a1&conversation_signature=SIGcanary HTTP/1.1",
            "SIG",
        ),
        (
            "wss://generativelanguage.googleapis.com/ws/x?key=AIzaSyCanary0123456789abcdefghijklm",
            "AIza",
        ),
        ("https://acme.openai.azure.com/openai/realtime?api-key=canary123&deployment=d", "canary"),
        ("https://x.example/cb?access_token=canary123", "canary"),
        ("https://blob.example/f?sv=2024&sig=canary%2B123&se=2025", "canary"),
        ("https://x.example/?signature=canary123#frag", "canary"),
    ],
)
def test_a_credential_in_a_url_query_is_masked(url: str, secret: str) -> None:
    cleaned = redact(url)
    assert secret not in cleaned and "=***" in cleaned
    assert cleaned.split("?")[0] == url.split("?")[0]  # the rest of the line is kept


def test_a_url_without_credentials_is_kept() -> None:
    url = "wss://api.openai.com/v1/realtime?model=gpt-realtime&voice=alloy"
    assert redact(url) == url


def record_with(exc: Exception) -> logging.LogRecord:
    try:
        raise exc
    except Exception:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())


def as_json_handler_would(record: logging.LogRecord) -> str:
    """What JSON formatters and error trackers do: format ``exc_info`` themselves if it is
    there, else take the text."""
    if record.exc_info:
        return "".join(traceback.format_exception(*record.exc_info))
    return record.exc_text or ""


def test_an_exception_that_quotes_a_key_leaves_no_exc_info_to_format_again() -> None:
    record = record_with(RuntimeError(f"refused {KEY}"))
    assert RedactingFilter().filter(record)
    assert KEY not in as_json_handler_would(record)
    assert record.exc_text is not None and "RuntimeError: refused ***" in record.exc_text


def test_an_exception_without_secrets_keeps_its_exc_info() -> None:
    record = record_with(RuntimeError("nothing secret"))
    assert RedactingFilter().filter(record)
    assert record.exc_info is not None and "nothing secret" in as_json_handler_would(record)


def test_extra_fields_are_masked() -> None:
    record = logging.makeLogRecord({"msg": "dialing", "url": f"wss://x/?key={KEY}", "n": 3})
    assert RedactingFilter().filter(record)
    assert KEY not in record.url and record.n == 3


@pytest.mark.parametrize(
    "name", ["httpx", "httpcore.http11", "asyncio", "voicewire.local", "voicewire.local.llm"]
)
def test_the_loggers_around_the_library_are_protected(logs: Everything, name: str) -> None:
    protect_logs()
    logging.getLogger(name).warning("failed on %s", f"https://x/?key={KEY}")
    assert logs.records and logs.leaks(KEY) == []


async def test_a_key_in_a_request_url_never_reaches_httpx_log(logs: Everything) -> None:
    protect_logs()
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get(f"https://generativelanguage.googleapis.com/v1/models?key={KEY}")
    assert [r for r in logs.records if r.name == "httpx"], "httpx logged the request"
    assert logs.leaks(KEY) == []


def test_every_logger_of_voicewire_is_protected() -> None:
    """A logger added to voicewire must be added to LIBRARY_LOGGERS (filters do not reach
    children): every name the source passes to ``getLogger`` is there."""
    source = Path(voicewire.__file__).parent
    names: set[str] = set()
    for path in source.rglob("*.py"):
        text = path.read_text()
        names.update(re.findall(r"getLogger\(\"(voicewire[\w.]*)\"\)", text))
        if "getLogger(__name__)" in text:
            module = path.relative_to(source.parent).with_suffix("")
            names.add(".".join(module.parts))
    assert names and names <= set(LIBRARY_LOGGERS)
