"""The served app with an auth service's keys: it verifies the tokens that service mints (public
key, or its JWKS URL) over real WebSockets on 127.0.0.1, mints none itself, and refuses forgeries
made with the public key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voicewire import RealtimeAgent
from voicewire.server import create_app
from voicewire.server.tokens import RemoteJwks, TokenKey
from voicewire.testing import ScriptedModel

from .conftest import Served, raw_client, serve
from .test_app_security import bearer, refused


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def minted(key: rsa.RSAPrivateKey, **changes: Any) -> str:
    """A token as an auth service mints it with plain PyJWT."""
    import time
    import uuid

    now = int(time.time())
    claims = {
        "aud": "voicewire",
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "sub": "user-7",
        "iss": "https://auth.example.com",
    }
    claims.update(changes)
    return jwt.encode(claims, private_pem(key), algorithm="RS256", headers={"kid": "auth-1"})


@pytest.fixture
async def verifying(
    agent: RealtimeAgent, model: ScriptedModel, rsa_key: rsa.RSAPrivateKey
) -> AsyncIterator[Served]:
    app = create_app(
        agent,
        model,
        token_keys=[TokenKey.from_pem(public_pem(rsa_key), kid="auth-1")],
        token_issuer="https://auth.example.com",
        single_use=True,
    )
    async with serve(app) as running:
        yield running


async def test_a_token_from_the_auth_service_opens_a_session_once(
    verifying: Served, model: ScriptedModel, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = minted(rsa_key)
    async with raw_client(verifying, token) as client:
        await client.send({"type": "session.update", "session": {"type": "realtime"}})
        await client.until("session.updated")
    await verifying.wait_idle(model)
    status, body = await refused(verifying, bearer(token))
    assert (status, body["error"]["code"]) == (401, "token_replayed")
    async with raw_client(verifying, minted(rsa_key), subprotocol=True):
        pass


async def test_the_verifying_server_mints_no_tokens(verifying: Served) -> None:
    assert not verifying.server.tokens.can_issue
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{verifying.http}/realtime/credential", json={})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "token_minting_disabled"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_forgeries_are_refused_over_the_socket(
    verifying: Served, rsa_key: rsa.RSAPrivateKey
) -> None:
    good = minted(rsa_key)
    _, payload, _ = good.split(".")
    header = _b64(json.dumps({"alg": "HS256", "kid": "auth-1", "typ": "JWT"}).encode())
    none = _b64(json.dumps({"alg": "none"}).encode())
    mac = hmac.new(public_pem(rsa_key), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    cases = {
        f"{header}.{payload}.{_b64(mac)}": "invalid_token_signature",
        f"{none}.{payload}.": "invalid_token_signature",
        minted(rsa_key, aud="billing"): "wrong_token_audience",
        minted(rsa_key, iss="https://evil.example.net"): "wrong_token_audience",
        minted(rsa_key, exp=1_000_000, iat=999_000): "token_expired",
        jwt.encode({"aud": "voicewire"}, private_pem(rsa_key), "RS256", {"kid": "auth-1"}): (
            "malformed_token"
        ),
        jwt.encode({"sub": "x"}, private_pem(rsa_key), "RS256", {"kid": "auth-2"}): (
            "unknown_token_key"
        ),
    }
    for token, code in cases.items():
        status, body = await refused(verifying, bearer(token))
        assert (status, body["error"]["code"]) == (401, code), token


async def test_keys_from_the_auth_service_jwks_url(
    agent: RealtimeAgent, model: ScriptedModel, rsa_key: rsa.RSAPrivateKey
) -> None:
    published = TokenKey.from_pem(public_pem(rsa_key), kid="auth-1").public_jwk()

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [published]})

    async with serve(Starlette(routes=[Route("/jwks.json", jwks)])) as auth:
        remote = RemoteJwks(f"{auth.http}/jwks.json")
        app = create_app(agent, model, token_jwks=remote)
        async with serve(app) as running:
            async with raw_client(running, minted(rsa_key)):
                pass
            assert remote.fetches == 1
            status, body = await refused(running, bearer(minted(rsa_key, aud="other")))
            assert (status, body["error"]["code"]) == (401, "wrong_token_audience")
