"""``voicewire serve`` token options, as a real process: an auth service's public key (two workers,
each reading it), a shared secret from the environment, and clear errors for unusable keys."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.exceptions import InvalidStatus

from tests.cli.support import Running, voicewire_serve
from tests.cli.test_converse_cli import run_cli
from voicewire.cli.token_options import SECRET_ENV, TokenOptions
from voicewire.server.tokens import TokenAuthority

pytestmark = pytest.mark.timeout(60)
SECRET = "cli-secret-0123456789abcdef0123456789"


@asynccontextmanager
async def echo_served(*options: str, env: dict[str, str] | None = None) -> AsyncIterator[Running]:
    """``voicewire serve`` on the echo model; nothing it prints shows the secret."""
    async with voicewire_serve("--model", "scripted:echo", *options, env=env) as served:
        yield served
    assert SECRET not in served.output


async def opens(port: int, token: str) -> int | None:
    """``None`` when the token opens a session, else the HTTP status refusing it."""
    url = f"ws://127.0.0.1:{port}/v1/realtime"
    try:
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
    except InvalidStatus as exc:
        return exc.response.status_code
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT workers: Linux")
async def test_serve_verifies_an_auth_services_tokens_with_its_public_key(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "auth.pem"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    options = ("--workers", "2", "--token-public-key", f"auth-1={public}")
    options += ("--token-issuer", "https://auth.example.com", "--token-audience", "voice")

    def mint(**changes: object) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            "aud": "voice",
            "iss": "https://auth.example.com",
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
            "sub": "user-1",
        }
        claims.update(changes)
        return jwt.encode(claims, private, algorithm="ES256", headers={"kid": "auth-1"})

    async with echo_served(*options) as served:
        for _ in range(4):  # connections land on either worker
            assert await opens(served.port, mint()) is None
        assert await opens(served.port, mint(aud="voicewire")) == 401
        assert await opens(served.port, mint(iss="https://evil.example.net")) == 401
        async with httpx.AsyncClient() as http:
            minted = await http.post(f"{served.url}/realtime/credential", json={})
        assert minted.status_code == 403
        assert minted.json()["error"]["code"] == "token_minting_disabled"


async def test_serve_shares_a_secret_from_the_environment() -> None:
    async with echo_served(env={SECRET_ENV: SECRET}) as served:
        ours = TokenAuthority(SECRET).issue(subject="from-another-instance").token
        assert await opens(served.port, ours) is None
        other = TokenAuthority("other-secret-0123456789abcdef012345").issue().token
        assert await opens(served.port, other) == 401


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (("--token-public-key", "/nonexistent/auth.pem"), "cannot read the token key"),
        (("--token-jwks", "/nonexistent/jwks.json"), "cannot read the JWKS file"),
        (("--token-jwks", "http://auth.example.com/jwks.json"), "https://"),
        (("--token-secret", "too-short"), "at least 32 bytes"),
    ],
)
async def test_unusable_token_options_are_clear_errors(
    options: tuple[str, ...], words: str
) -> None:
    code, out, err = await run_cli("serve", "--model", "scripted:echo", "--port", "0", *options)
    assert code == 2, (out, err)
    assert words in err and "Traceback" not in err


def test_options_never_show_the_secret_and_share_one_per_run() -> None:
    options = TokenOptions(secret=SECRET)
    assert SECRET not in repr(options)
    assert options.shared() is options
    generated = TokenOptions().shared()
    assert generated.secret is not None and len(generated.secret) >= 32
    assert generated.shared() is generated
    assert TokenOptions(public_keys=("k.pem",)).shared().secret is None  # verifies only
