"""Keys from an auth service's JWKS URL (served here on 127.0.0.1): fetched with httpx, cached,
fetched again for a rotated kid at most once per interval, kept when a fetch fails."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from voicewire.protocol import ConfigurationError
from voicewire.server.tokens import (
    RemoteJwks,
    TokenAuthority,
    TokenKey,
    TokenKeyError,
    TokenReplayError,
)

from .conftest import serve


def new_key(kid: str) -> TokenKey:
    """A fresh ES256 private key (what an auth service signs with)."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return TokenKey.from_pem(pem, kid=kid)


@dataclass
class AuthService:
    """A stand-in auth service: signs with its current key, publishes its public keys."""

    keys: list[TokenKey] = field(default_factory=list)
    status: int = 200
    body: bytes | None = None
    requests: int = 0

    def rotate(self, kid: str) -> TokenKey:
        key = new_key(kid)
        self.keys.append(key)
        return key

    def mint(self, key: TokenKey, subject: str = "user-1") -> str:
        return TokenAuthority(keys=[key], audience="voicewire").issue(subject=subject).token

    async def jwks(self, request: Request) -> Response:
        self.requests += 1
        if self.body is not None:
            return Response(self.body, media_type="application/json")
        if self.status != 200:
            return JSONResponse({"error": "down"}, status_code=self.status)
        return JSONResponse({"keys": [key.public_jwk() for key in self.keys]})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def auth() -> AsyncIterator[tuple[AuthService, str]]:
    service = AuthService()
    app = Starlette(routes=[Route("/.well-known/jwks.json", service.jwks)])
    async with serve(app) as running:
        yield service, f"http://127.0.0.1:{running.port}/.well-known/jwks.json?tenant=secretish"


async def test_fetch_cache_and_rotation(auth: tuple[AuthService, str]) -> None:
    service, url = auth
    first = service.rotate("k1")
    clock = Clock()
    jwks = RemoteJwks(url, cache_seconds=300, min_interval=30, clock=clock)
    authority = TokenAuthority(jwks=jwks, single_use=True)
    assert not authority.can_issue
    assert (await authority.redeem(service.mint(first, "alice"))).sub == "alice"
    assert service.requests == 1
    await authority.redeem(service.mint(first))
    assert service.requests == 1  # cached
    # The service rotates: a token under the new kid makes one early fetch...
    second = service.rotate("k2")
    clock.now += 31
    assert (await authority.redeem(service.mint(second))).kid == "k2"
    assert service.requests == 2
    # ...and a flood of made-up kids makes at most one fetch per interval.
    stranger = new_key("k9")
    for _ in range(5):
        with pytest.raises(TokenKeyError):
            await authority.redeem(service.mint(stranger))
    assert service.requests == 2  # k2's fetch was less than 30 s ago
    clock.now += 31
    with pytest.raises(TokenKeyError):
        await authority.redeem(service.mint(stranger))
    assert service.requests == 3
    # Stale keys are fetched again before use.
    clock.now += 301
    await authority.redeem(service.mint(first))
    assert service.requests == 4
    # Single use still holds through the remote keys.
    token = service.mint(second)
    await authority.redeem(token)
    with pytest.raises(TokenReplayError):
        await authority.redeem(token)


async def test_a_failed_fetch_keeps_the_known_keys_and_logs_no_query(
    auth: tuple[AuthService, str], caplog: pytest.LogCaptureFixture
) -> None:
    service, url = auth
    key = service.rotate("k1")
    clock = Clock()
    jwks = RemoteJwks(url, cache_seconds=60, min_interval=10, clock=clock)
    authority = TokenAuthority(jwks=jwks)
    await authority.redeem(service.mint(key))
    service.status = 503
    clock.now += 61
    caplog.set_level(logging.WARNING, logger="voicewire.server")
    await authority.redeem(service.mint(key))  # stale, the fetch fails, the old key still works
    assert service.requests == 2 and jwks.last_error == "ValueError: HTTP 503"
    assert "could not fetch the token keys" in caplog.text
    assert "secretish" not in caplog.text and "secretish" not in repr(jwks)
    assert len(jwks.keys) == 1
    await authority.redeem(service.mint(key))
    assert service.requests == 2  # a failed attempt waits min_interval too


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{", "ValueError: the JWKS is not JSON"),
        (b'{"keys": []}', "no usable RS256 or ES256"),
        (b'{"keys": [' + b" " * 300_000 + b"]}", "larger than"),
    ],
)
async def test_a_bad_document_is_refused_and_tokens_with_it(
    auth: tuple[AuthService, str], body: bytes, error: str
) -> None:
    service, url = auth
    key = service.rotate("k1")
    service.body = body
    jwks = RemoteJwks(url)
    with pytest.raises(TokenKeyError):
        await TokenAuthority(jwks=jwks).redeem(service.mint(key))
    assert jwks.last_error is not None and error in jwks.last_error
    assert jwks.keys == ()


async def test_an_unreachable_url_refuses_tokens() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    jwks = RemoteJwks(f"http://127.0.0.1:{port}/jwks.json", timeout=2)
    key = new_key("k1")
    with pytest.raises(TokenKeyError):
        await TokenAuthority(jwks=jwks).redeem(AuthService().mint(key))
    assert jwks.fetches == 1 and jwks.last_error is not None


@pytest.mark.parametrize(
    "url", ["http://auth.example.com/jwks.json", "ftp://127.0.0.1/jwks", "file:///etc/jwks"]
)
def test_only_https_or_loopback_urls(url: str) -> None:
    with pytest.raises(ConfigurationError, match="https://"):
        RemoteJwks(url)
    shown = repr(RemoteJwks("https://jwks:pa55word@auth.example.com:8443/jwks.json?sig=s3cret"))
    assert "pa55word" not in shown and "s3cret" not in shown
    assert "https://auth.example.com:8443/jwks.json" in shown


def test_sync_verify_uses_the_cached_keys_only() -> None:
    jwks = RemoteJwks("https://auth.example.com/.well-known/jwks.json")
    key = new_key("k1")
    with pytest.raises(TokenKeyError):
        TokenAuthority(jwks=jwks).verify(AuthService().mint(key))
    assert jwks.fetches == 0
