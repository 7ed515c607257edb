"""voicewire tokens: signed, expiring, audience-bound, optionally single use."""

from __future__ import annotations

import base64
import json

import pytest

from voicewire.protocol import ConfigurationError, CredentialExpiredError
from voicewire.server import (
    TokenAudienceError,
    TokenAuthority,
    TokenExpiredError,
    TokenMalformedError,
    TokenReplayError,
    TokenSignatureError,
)

SECRET = "test-secret-0123456789abcdef0123"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_issue_and_verify() -> None:
    clock = Clock()
    authority = TokenAuthority(SECRET, ttl=600, clock=clock)
    credential = authority.issue()
    claims = authority.verify(credential.token)
    assert claims.aud == "voicewire"
    assert claims.exp - claims.iat == 600
    assert credential.expires_at == claims.expires_at
    assert credential.token.startswith("vw1.")
    assert SECRET not in repr(authority)
    assert "***" in repr(credential)


def test_expired() -> None:
    clock = Clock()
    authority = TokenAuthority(SECRET, ttl=60, clock=clock)
    token = authority.issue().token
    clock.now += 59
    authority.verify(token)
    clock.now += 1
    with pytest.raises(TokenExpiredError) as caught:
        authority.verify(token)
    assert isinstance(caught.value, CredentialExpiredError)
    assert token not in str(caught.value)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_forged_signature_and_payload() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.issue().token
    prefix, payload, signature = token.split(".")
    with pytest.raises(TokenSignatureError):
        authority.verify(f"{prefix}.{payload}.{_flip(signature, 3)}")
    # A payload rewritten to live longer, with the old signature.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["exp"] += 10_000
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenSignatureError):
        authority.verify(f"{prefix}.{forged}.{signature}")
    # Signed with another secret.
    other = TokenAuthority("another-secret-0123456789abcdef").issue().token
    with pytest.raises(TokenSignatureError):
        authority.verify(other)


@pytest.mark.parametrize(
    "token", ["", "x", "vw1.a", "vw2.a.b", "vw1.a.b.c", "vw1.abc.!!!", "a" * 5000, "vw1..."]
)
def test_malformed(token: str) -> None:
    with pytest.raises((TokenMalformedError, TokenSignatureError)):
        TokenAuthority(SECRET).verify(token)


def test_wrong_audience() -> None:
    token = TokenAuthority(SECRET, audience="billing").issue().token
    with pytest.raises(TokenAudienceError):
        TokenAuthority(SECRET, audience="voicewire").verify(token)
    assert TokenAuthority(SECRET).verify(token, audience="billing").aud == "billing"


def test_single_use_refuses_replay_and_forgets_expired_tokens() -> None:
    clock = Clock()
    authority = TokenAuthority(SECRET, ttl=30, single_use=True, clock=clock)
    first, second = authority.issue().token, authority.issue().token
    authority.verify(first)
    with pytest.raises(TokenReplayError):
        authority.verify(first)
    authority.verify(second)
    assert authority.remembered == 2
    clock.now += 31
    third = authority.issue().token
    authority.verify(third)  # prunes the two expired entries
    assert authority.remembered == 1
    with pytest.raises(TokenExpiredError):
        authority.verify(first)


def test_reusable_by_default() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.issue().token
    authority.verify(token)
    authority.verify(token)


def test_generated_secrets_differ_and_short_secrets_are_refused() -> None:
    token = TokenAuthority().issue().token
    with pytest.raises(TokenSignatureError):
        TokenAuthority().verify(token)
    with pytest.raises(ConfigurationError):
        TokenAuthority("short")
    with pytest.raises(ConfigurationError):
        TokenAuthority(SECRET, ttl=0)
