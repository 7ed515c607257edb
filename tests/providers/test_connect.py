"""Connecting and authenticating: every failure is a clear, specific error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from openai.types.realtime import ClientSecretCreateResponse
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from voicewire.protocol import (
    AuthenticationError,
    ConnectAbortedError,
    ConnectOptions,
    CredentialExpiredError,
    HandshakeError,
    TokenCredential,
    UrlCredential,
    WireSocket,
)
from voicewire.providers import openai, xai

# Computed at collection; a whole day so a long suite run never outlives it.
LATER = datetime.now(UTC) + timedelta(days=1)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.refuse = False


@pytest.fixture
async def ws_server() -> AsyncIterator[tuple[Server, Recorder]]:
    recorder = Recorder()

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        recorder.requests.append(request)
        if recorder.refuse:
            return connection.respond(401, '{"error": "invalid api key"}\n')
        return None

    async def handler(connection: ServerConnection) -> None:
        await connection.send(
            json.dumps({"type": "error", "error": {"type": "x", "message": "hi"}})
        )
        await connection.wait_closed()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        select_subprotocol=lambda conn, offered: offered[-1] if offered else None,
    ) as server:
        yield server, recorder


def base_url(server: Server) -> str:
    port = next(iter(server.sockets)).getsockname()[1]
    return f"ws://127.0.0.1:{port}/v1"


async def test_api_key_goes_in_the_authorization_header(
    ws_server: tuple[Server, Recorder],
) -> None:
    server, recorder = ws_server
    model = openai.realtime("gpt-realtime", api_key="sk-secret", base_url=base_url(server))
    connection = await model.connect()
    await connection.close()
    request = recorder.requests[0]
    assert request.path == "/v1/realtime?model=gpt-realtime"
    assert request.headers["Authorization"] == "Bearer sk-secret"
    assert "Sec-WebSocket-Protocol" not in request.headers


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (openai.realtime, "realtime, openai-insecure-api-key.ek_123"),
        (xai.realtime, "xai-client-secret.ek_123"),
    ],
)
async def test_a_credential_travels_as_subprotocol(
    ws_server: tuple[Server, Recorder], factory: object, expected: str
) -> None:
    server, recorder = ws_server
    model = factory(base_url=base_url(server))  # type: ignore[operator]
    connection = await model.connect(ConnectOptions(credential=TokenCredential("ek_123", LATER)))
    await connection.close()
    headers: Headers = recorder.requests[0].headers
    assert headers["Sec-WebSocket-Protocol"] == expected
    assert "Authorization" not in headers


async def test_missing_key_says_where_to_put_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="XAI_API_KEY"):
        await xai.realtime().connect()


async def test_key_from_the_environment(
    ws_server: tuple[Server, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, recorder = ws_server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    connection = await openai.realtime(base_url=base_url(server)).connect()
    await connection.close()
    assert recorder.requests[0].headers["Authorization"] == "Bearer sk-env"


async def test_wrong_credential_kind() -> None:
    model = openai.realtime(api_key="k", base_url="ws://127.0.0.1:9/v1")
    options = ConnectOptions(credential=UrlCredential("wss://signed", LATER))
    with pytest.raises(AuthenticationError, match="token credential, got a url credential"):
        await model.connect(options)


async def test_expired_credential_is_refused_before_dialing() -> None:
    model = openai.realtime(base_url="ws://127.0.0.1:9/v1")
    past = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(CredentialExpiredError, match="expired"):
        await model.connect(ConnectOptions(credential=TokenCredential("ek", past)))


async def test_refused_handshake(ws_server: tuple[Server, Recorder]) -> None:
    server, recorder = ws_server
    recorder.refuse = True
    model = openai.realtime(api_key="sk-wrong", base_url=base_url(server))
    with pytest.raises(HandshakeError, match=r"HTTP 401.*check the API key") as info:
        await model.connect()
    assert info.value.status == 401
    assert "sk-wrong" not in str(info.value)


async def test_unreachable_server() -> None:
    model = openai.realtime(api_key="k", base_url="ws://127.0.0.1:1/v1")
    with pytest.raises(HandshakeError, match="could not reach openai"):
        await model.connect()


async def hanging_socket(
    url: str, subprotocols: Sequence[str], headers: Mapping[str, str]
) -> WireSocket:
    await asyncio.sleep(30)
    raise AssertionError("unreachable")


async def test_abort_a_pending_connect() -> None:
    abort = asyncio.Event()
    model = openai.realtime(api_key="k")
    options = ConnectOptions(abort=abort, websocket=hanging_socket)
    asyncio.get_running_loop().call_later(0.05, abort.set)
    with pytest.raises(ConnectAbortedError, match="aborted"):
        await asyncio.wait_for(model.connect(options), timeout=2)


async def test_abort_already_set() -> None:
    abort = asyncio.Event()
    abort.set()
    model = openai.realtime(api_key="k")
    with pytest.raises(ConnectAbortedError, match="before it started"):
        await model.connect(ConnectOptions(abort=abort, websocket=hanging_socket))


async def test_cancelling_connect_works_too() -> None:
    model = openai.realtime(api_key="k")
    task = asyncio.create_task(model.connect(ConnectOptions(websocket=hanging_socket)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- authenticate(): the provider's client-secrets endpoint, answered with its own types ---------


def client_secret_answer(expires_at: int) -> dict[str, object]:
    answer = {
        "value": "ek_abc123",
        "expires_at": expires_at,
        "session": {
            "id": "sess_C9G5",
            "object": "realtime.session",
            "type": "realtime",
            "model": "gpt-realtime",
        },
    }
    ClientSecretCreateResponse.model_validate(answer)  # the provider's published shape
    return answer


async def test_openai_authenticate_returns_the_providers_expiry() -> None:
    expires = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=client_secret_answer(expires))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        model = openai.realtime("gpt-realtime", api_key="sk-1", http_client=http)
        credential = await model.authenticate(ttl_seconds=120)
    assert credential.token == "ek_abc123"
    assert credential.expires_at == datetime.fromtimestamp(expires, UTC)
    request = seen[0]
    assert str(request.url) == "https://api.openai.com/v1/realtime/client_secrets"
    assert request.headers["Authorization"] == "Bearer sk-1"
    body = json.loads(request.content)
    assert body == {
        "expires_after": {"seconds": 120, "anchor": "created_at"},
        "session": {"type": "realtime", "model": "gpt-realtime"},
    }


async def test_xai_authenticate_sends_only_the_expiry() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": "xai-tok", "expires_at": 2_000_000_000})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        credential = await xai.realtime(api_key="xk", http_client=http).authenticate()
    assert str(seen[0].url) == "https://api.x.ai/v1/realtime/client_secrets"
    assert json.loads(seen[0].content) == {"expires_after": {"seconds": 600}}
    assert credential.expires_at == datetime.fromtimestamp(2_000_000_000, UTC)


async def test_authenticate_follows_base_url() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=client_secret_answer(2_000_000_000))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        model = openai.realtime(api_key="k", base_url="ws://127.0.0.1:8000/v1", http_client=http)
        await model.authenticate()
    assert seen == ["http://127.0.0.1:8000/v1/realtime/client_secrets"]


async def test_authenticate_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        model = openai.realtime(api_key="bad", http_client=http)
        with pytest.raises(AuthenticationError, match=r"HTTP 401.*Incorrect API key"):
            await model.authenticate()
