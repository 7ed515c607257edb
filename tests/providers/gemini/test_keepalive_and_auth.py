"""Gemini's slow pongs do not end calls; a dead link with a handle resumes; ephemeral tokens are
minted with the exact request Gemini takes and connect through the constrained endpoint; no
secret reaches a URL log line or an error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from voicewire.protocol import (
    AuthenticationError,
    ConnectOptions,
    CredentialExpiredError,
    SessionConfig,
    TokenCredential,
    TransportStatus,
    UrlCredential,
    WireSocket,
)
from voicewire.providers import gemini
from voicewire.providers.gemini import GEMINI_KEEPALIVE, ResumePolicy
from voicewire.providers.keepalive import Keepalive
from voicewire.redaction import redact

from .support import Peer, RawGemini, until

pytestmark = pytest.mark.timeout(30)


class SlowPongs:
    """A real client socket whose pongs come ``delay`` seconds late (Gemini takes 8-30 s); after
    ``dead_after`` pings they never come (a dead link)."""

    def __init__(self, delay: float, dead_after: int | None = None) -> None:
        self.delay = delay
        self.dead_after = dead_after
        self.pings = 0
        self.pongs = 0
        self.sockets: list[ClientConnection] = []

    async def __call__(
        self, url: str, subprotocols: Sequence[str], headers: Mapping[str, str]
    ) -> WireSocket:
        ws = await ws_connect(url, additional_headers=dict(headers), ping_interval=None)
        self.sockets.append(ws)
        outer = self

        class Socket:
            async def send(self, message: str, /) -> None:
                await ws.send(message)

            async def recv(self) -> str | bytes:
                return await ws.recv()

            async def close(self, code: int = 1000, reason: str = "") -> None:
                await ws.close(code, reason)

            async def ping(self) -> asyncio.Future[None]:
                outer.pings += 1
                pong: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                if outer.dead_after is None or outer.pings <= outer.dead_after:
                    asyncio.get_running_loop().call_later(outer.delay, outer._answer, pong)
                return pong

        return Socket()

    def _answer(self, pong: asyncio.Future[None]) -> None:
        if not pong.done():
            self.pongs += 1
            pong.set_result(None)


def test_the_default_keepalive_outwaits_geminis_slow_pongs() -> None:
    assert GEMINI_KEEPALIVE.ping_timeout is not None and GEMINI_KEEPALIVE.ping_timeout >= 30
    assert gemini.realtime(api_key="k").keepalive == GEMINI_KEEPALIVE
    mine = Keepalive(ping_interval=5, ping_timeout=60)
    assert gemini.realtime(api_key="k", keepalive=mine).keepalive is mine


async def test_slow_pongs_within_the_timeout_keep_the_call() -> None:
    """Scaled down: pongs 3x slower than the interval, within the timeout, as Gemini's are."""

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.pump()

    slow = SlowPongs(delay=0.15)
    async with RawGemini(handler) as server:
        model = gemini.realtime(
            api_key="g-test",
            base_url=server.base_url,
            keepalive=Keepalive(ping_interval=0.05, ping_timeout=0.6, close_timeout=0.5),
        )
        connection = await model.connect(ConnectOptions(websocket=slow))
        await until(lambda: slow.pongs >= 5)
        assert connection.status is TransportStatus.CONNECTED
        assert len(server.peers) == 1 and connection.resumptions == 0
        await connection.close()


async def test_a_dead_link_with_a_handle_resumes_on_a_new_socket() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-live", "resumable": True}})
        await peer.pump()

    dying = SlowPongs(delay=0.01, dead_after=2)
    async with RawGemini(handler) as server:
        model = gemini.realtime(
            api_key="g-test",
            base_url=server.base_url,
            keepalive=Keepalive(ping_interval=0.05, ping_timeout=0.3, close_timeout=0.3),
            resume_policy=ResumePolicy(backoff=(0.0,)),
        )
        connection = await model.connect(ConnectOptions(websocket=dying))
        await until(lambda: connection.resumptions >= 1)
        assert server.peers[1].received[0]["setup"]["sessionResumption"] == {"handle": "h-live"}
        assert connection.status is TransportStatus.CONNECTED
        await connection.close()


# -- ephemeral tokens --------------------------------------------------------------------------


async def test_authenticate_mints_a_token_with_the_exact_request() -> None:
    requests: list[httpx.Request] = []
    expires = datetime.now(UTC) + timedelta(minutes=1)

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(
            200,
            json={
                "name": "auth_tokens/abc123",
                "expireTime": "2030-01-01T00:30:00Z",
                "newSessionExpireTime": expires.isoformat().replace("+00:00", "Z"),
                "uses": 0,
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        model = gemini.realtime(
            "gemini-2.5-flash-native-audio-preview-12-2025",
            api_key="g-secret",
            base_url="wss://example.test",
            http_client=client,
        )
        credential = await model.authenticate()
    [request] = requests
    assert request.method == "POST"
    assert str(request.url) == "https://example.test/v1alpha/auth_tokens"
    assert request.headers["x-goog-api-key"] == "g-secret"
    assert "key=" not in str(request.url)
    body = json.loads(request.content)
    assert body["uses"] == 0  # resuming must not run out of uses
    assert body["bidiGenerateContentSetup"] == {
        "model": "models/gemini-2.5-flash-native-audio-preview-12-2025"
    }
    assert body["fieldMask"] == "model"
    for key in ("expireTime", "newSessionExpireTime"):
        parsed = datetime.fromisoformat(body[key].replace("Z", "+00:00"))
        assert parsed > datetime.now(UTC)
    assert isinstance(credential, TokenCredential)
    assert credential.token == "auth_tokens/abc123"
    assert abs((credential.expires_at - expires).total_seconds()) < 1
    assert "abc123" not in repr(credential)


async def test_authenticate_failures_are_clear_and_keep_the_key_out() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="API key g-secret not valid. Pass a valid API key.")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        model = gemini.realtime(api_key="g-secret", http_client=client)
        with pytest.raises(AuthenticationError, match="HTTP 403") as raised:
            await model.authenticate()
    assert "refused to mint a token" in str(raised.value)
    assert "g-secret" not in str(raised.value)

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"uses": 1})

    async with httpx.AsyncClient(transport=httpx.MockTransport(garbage)) as client:
        model = gemini.realtime(api_key="g-secret", http_client=client)
        with pytest.raises(AuthenticationError, match="no 'name'"):
            await model.authenticate()
        with pytest.raises(ValueError, match="at least 2"):
            await model.authenticate(uses=1)


async def test_no_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY"):
        await gemini.realtime().connect()
    monkeypatch.setenv("GOOGLE_API_KEY", "from-env")
    model = gemini.realtime()
    assert model._api_key_or_raise() == "from-env"


async def test_a_token_connects_through_the_constrained_endpoint() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.pump()

    token = TokenCredential("auth_tokens/t-1", datetime.now(UTC) + timedelta(minutes=1))
    async with RawGemini(handler) as server:
        model = gemini.realtime(base_url=server.base_url)  # no key needed with a token
        connection = await model.connect(
            ConnectOptions(session_config=SessionConfig(), credential=token)
        )
        peer = server.peers[0]
        assert peer.path == (
            "/ws/google.ai.generativelanguage.v1alpha.GenerativeService."
            "BidiGenerateContentConstrained?access_token=auth_tokens%2Ft-1"
        )
        assert "x-goog-api-key" not in peer.headers
        await connection.close()


async def test_wrong_or_expired_credentials_are_refused_before_dialing() -> None:
    model = gemini.realtime(api_key="k", base_url="ws://127.0.0.1:9")
    past = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(CredentialExpiredError):
        await model.connect(ConnectOptions(credential=TokenCredential("auth_tokens/x", past)))
    with pytest.raises(AuthenticationError, match="token credential"):
        await model.connect(ConnectOptions(credential=UrlCredential("wss://x", past)))


def test_secrets_in_gemini_urls_and_headers_are_masked() -> None:
    url = (
        "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1alpha."
        "GenerativeService.BidiGenerateContentConstrained?access_token=auth_tokens/abc"
    )
    assert "auth_tokens/abc" not in redact(url)
    assert "AIzaSyA-1234567890abcdefghij" not in redact(
        "GET /ws/x?key=AIzaSyA-1234567890abcdefghij"
    )
    assert "g-secret" not in redact("x-goog-api-key: g-secret")
