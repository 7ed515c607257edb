"""voicewire tokens with a shared secret (HS256): standard JWTs, signed, expiring,
audience-bound, optionally single use."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
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
from voicewire.server.tokens import (
    DEFAULT_LEEWAY,
    MemoryReplayGuard,
    TokenKey,
    TokenKeyError,
    TokenNotYetValidError,
)

SECRET = "test-secret-0123456789abcdef0123456789"
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unb64(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "aud": "voicewire",
        "exp": int(NOW) + 600,
        "iat": int(NOW),
        "jti": "id-1",
        "sub": "user-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_issue_and_verify_a_standard_jwt() -> None:
    clock = Clock()
    authority = TokenAuthority(SECRET, ttl=600, clock=clock)
    credential = authority.issue(subject="user-42")
    verified = authority.verify(credential.token)
    assert (verified.aud, verified.sub, verified.exp - verified.iat) == (
        "voicewire",
        "user-42",
        600,
    )
    assert credential.expires_at == verified.expires_at
    # Any JWT library reads it: header and claims are the standard ones.
    header = jwt.get_unverified_header(credential.token)
    assert header["alg"] == "HS256"
    plain = jwt.decode(
        credential.token,
        SECRET,
        algorithms=["HS256"],
        audience="voicewire",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert set(plain) == {"aud", "exp", "iat", "jti", "sub"}
    assert plain["jti"] == verified.jti and len(verified.jti) >= 16
    assert authority.issue().token != credential.token
    assert authority.verify(authority.issue().token).sub == "anonymous"
    clock.now += 0.1  # a fraction of a second in: a short lifetime still lives
    short = authority.verify(authority.issue(ttl=0.5).token)
    assert short.exp - short.iat == 1


def test_secrets_never_in_repr() -> None:
    authority = TokenAuthority(SECRET, keys=[TokenKey.hmac("x" * 40, kid="old")])
    for text in (repr(authority), repr(TokenKey.hmac(SECRET)), str(authority)):
        assert SECRET not in text and "x" * 40 not in text
    assert "***" in repr(authority.issue())
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(TokenKey.hmac(SECRET))


def test_expired_with_a_small_documented_leeway() -> None:
    assert 0 < DEFAULT_LEEWAY <= 10
    clock = Clock()
    authority = TokenAuthority(SECRET, ttl=60, clock=clock)
    token = authority.issue().token
    clock.now += 60 + DEFAULT_LEEWAY - 0.5
    authority.verify(token)
    clock.now += 0.5
    with pytest.raises(TokenExpiredError) as caught:
        authority.verify(token)
    assert isinstance(caught.value, CredentialExpiredError)
    assert token not in str(caught.value)
    strict = TokenAuthority(SECRET, leeway=0, clock=Clock(NOW + 60))
    with pytest.raises(TokenExpiredError):
        strict.verify(token)


def test_issued_in_the_future_or_not_yet_valid() -> None:
    clock = Clock()
    authority = TokenAuthority(SECRET, clock=clock)
    ahead = jwt.encode(claims(iat=int(NOW) + 60, exp=int(NOW) + 600), SECRET, algorithm="HS256")
    with pytest.raises(TokenNotYetValidError, match="future"):
        authority.verify(ahead)
    later = jwt.encode(claims(nbf=int(NOW) + 60), SECRET, algorithm="HS256")
    with pytest.raises(TokenNotYetValidError, match="nbf"):
        authority.verify(later)
    clock.now += 60
    authority.verify(ahead)
    authority.verify(later)
    slight = jwt.encode(claims(iat=int(NOW) + 63, exp=int(NOW) + 663), SECRET, algorithm="HS256")
    authority.verify(slight)  # within the leeway


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_every_tampering_is_refused() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.issue().token
    header, payload, signature = token.split(".")
    with pytest.raises(TokenSignatureError):
        authority.verify(f"{header}.{payload}.{_flip(signature, 3)}")
    # The payload rewritten to live longer, or for another subject, with the old signature.
    for edit in ({"exp": unb64(payload)["exp"] + 10_000}, {"sub": "admin"}):
        forged = b64({**unb64(payload), **edit})
        with pytest.raises(TokenSignatureError):
            authority.verify(f"{header}.{forged}.{signature}")
    # Signed with another secret.
    with pytest.raises(TokenSignatureError):
        authority.verify(TokenAuthority("another-secret-0123456789abcdefghij").issue().token)
    # A signature cut off, or the header's alg set to none with no signature.
    with pytest.raises(TokenSignatureError):
        authority.verify(f"{header}.{payload}.")
    none_header = b64({"alg": "none", "typ": "JWT"})
    for unsigned in (f"{none_header}.{payload}.", f"{none_header}.{payload}.{signature}"):
        with pytest.raises(TokenSignatureError, match="'none' is not accepted"):
            authority.verify(unsigned)
    none_by_pyjwt = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(TokenSignatureError):
        authority.verify(none_by_pyjwt)
    # Another HMAC strength with the same secret is refused too: the key allows HS256 only.
    hs512 = jwt.encode(claims(), SECRET + "-long-enough-for-hs512-0123456789", algorithm="HS512")
    with pytest.raises(TokenSignatureError, match="not accepted"):
        authority.verify(hs512)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "vw1.a",
        "a.b",
        "a.b.c.d",
        "vw1.abc.!!!",
        "a" * 9000,
        "...",
        b64({"alg": "HS256"}) + ".!!!.sig",
        "eyJ.eyJ.sig",
        b64({"alg": "HS256", "kid": 7}) + ".e30.sig",
    ],
)
def test_malformed(token: str) -> None:
    with pytest.raises(TokenMalformedError):
        TokenAuthority(SECRET).verify(token)


@pytest.mark.parametrize("missing", ["aud", "exp", "iat", "jti", "sub"])
def test_a_missing_claim_is_named(missing: str) -> None:
    token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
    authority = TokenAuthority(SECRET, clock=Clock())
    with pytest.raises(TokenMalformedError, match=f"lacks the '{missing}' claim"):
        authority.verify(token)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"jti": 5}, "'jti' claim is not a string"),
        ({"jti": ""}, "'jti' claim is not a string"),
        ({"sub": "x" * 300}, "'sub' claim is not a string"),
        ({"sub": ["a"]}, "'sub' claim is not a string"),
        ({"exp": True}, "'exp' claim is not a number"),
        ({"iat": "yesterday"}, "'iat' claim is not a number"),
        ({"exp": int(NOW) + 3 * 86_400}, "lifetime"),
        ({"exp": int(NOW) - 1, "iat": int(NOW)}, "expired"),
    ],
)
def test_wrong_claim_types_and_lifetimes(changes: dict[str, Any], words: str) -> None:
    token = jwt.encode(claims(**changes), SECRET, algorithm="HS256")
    authority = TokenAuthority(SECRET, clock=Clock(NOW + 10))
    with pytest.raises((TokenMalformedError, TokenExpiredError), match=words):
        authority.verify(token)


def test_wrong_audience() -> None:
    token = TokenAuthority(SECRET, audience="billing").issue().token
    with pytest.raises(TokenAudienceError):
        TokenAuthority(SECRET, audience="voicewire").verify(token)
    assert TokenAuthority(SECRET).verify(token, audience="billing").aud == "billing"
    several = jwt.encode(claims(aud=["billing", "voicewire"]), SECRET, algorithm="HS256")
    assert TokenAuthority(SECRET, clock=Clock()).verify(several).aud == "voicewire"


def test_issuer_when_configured() -> None:
    clock = Clock()
    ours = TokenAuthority(SECRET, issuer="https://auth.example.com", clock=clock)
    assert ours.verify(ours.issue().token).sub == "anonymous"
    foreign = jwt.encode(claims(iss="https://evil.example.net"), SECRET, algorithm="HS256")
    with pytest.raises(TokenAudienceError, match="issuer"):
        ours.verify(foreign)
    with pytest.raises(TokenMalformedError, match="'iss'"):
        ours.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))


def test_single_use_refuses_replay_and_forgets_expired_tokens() -> None:
    clock = Clock()
    authority = TokenAuthority(SECRET, ttl=30, single_use=True, clock=clock)
    first, second = authority.issue().token, authority.issue().token
    authority.verify(first)
    with pytest.raises(TokenReplayError):
        authority.verify(first)
    authority.verify(second)
    assert authority.remembered == 2
    clock.now += 31 + DEFAULT_LEEWAY
    third = authority.issue().token
    authority.verify(third)  # prunes the two expired entries
    assert authority.remembered == 1
    with pytest.raises(TokenExpiredError):
        authority.verify(first)


async def test_redeem_claims_once_through_an_injected_guard() -> None:
    calls: list[tuple[str, float]] = []

    class SharedGuard:
        def __init__(self) -> None:
            self.seen: set[str] = set()

        async def claim_once(self, jti: str, expires_at: float) -> bool:
            calls.append((jti, expires_at))
            first = jti not in self.seen
            self.seen.add(jti)
            return first

    guard = SharedGuard()
    one = TokenAuthority(SECRET, single_use=True, replay_guard=guard)
    other = TokenAuthority(SECRET, single_use=True, replay_guard=guard)  # another process
    token = one.issue().token
    claimed = await one.redeem(token)
    with pytest.raises(TokenReplayError):
        await other.redeem(token)
    assert calls == [(claimed.jti, claimed.exp + DEFAULT_LEEWAY)] * 2
    # The synchronous path cannot await a shared guard: it says so instead of skipping the claim.
    with pytest.raises(ConfigurationError, match="redeem"):
        one.verify(one.issue().token)
    # Nothing is claimed for a bad token, nor by a reusable authority.
    with pytest.raises(TokenSignatureError):
        await one.redeem(_flip(token, len(token) - 3))
    await TokenAuthority(SECRET, replay_guard=guard).redeem(token)
    assert len(calls) == 2


async def test_default_guard_is_shared_by_verify_and_redeem() -> None:
    authority = TokenAuthority(SECRET, single_use=True)
    assert isinstance(authority.replay_guard, MemoryReplayGuard)
    token = authority.issue().token
    await authority.redeem(token)
    with pytest.raises(TokenReplayError):
        authority.verify(token)


def test_reusable_by_default() -> None:
    authority = TokenAuthority(SECRET)
    token = authority.issue().token
    authority.verify(token)
    authority.verify(token)


def test_hs_secret_rotation_by_kid() -> None:
    old = TokenAuthority(keys=[TokenKey.hmac(SECRET, kid="2026-10")])
    new_secret = "new-secret-0123456789abcdef0123456789"
    rotated = TokenAuthority(
        keys=[TokenKey.hmac(SECRET, kid="2026-10"), TokenKey.hmac(new_secret, kid="2026-11")],
        signing_kid="2026-11",
    )
    minted = rotated.issue().token
    assert jwt.get_unverified_header(minted)["kid"] == "2026-11"
    assert rotated.verify(old.issue().token).kid == "2026-10"
    assert rotated.verify(minted).kid == "2026-11"
    with pytest.raises(TokenKeyError):
        old.verify(minted)
    no_kid = jwt.encode(claims(), new_secret, algorithm="HS256")
    with pytest.raises(TokenKeyError, match="no key id"):
        rotated.verify(no_kid)


def test_configuration_errors() -> None:
    token = TokenAuthority().issue().token
    with pytest.raises(TokenSignatureError):
        TokenAuthority().verify(token)  # generated secrets differ
    for bad in (
        lambda: TokenAuthority("short"),
        lambda: TokenAuthority("x" * 31),
        lambda: TokenAuthority(SECRET, ttl=0),
        lambda: TokenAuthority(SECRET, ttl=2 * 86_400),
        lambda: TokenAuthority(SECRET, audience=""),
        lambda: TokenAuthority(SECRET, leeway=-1),
        lambda: TokenAuthority(
            keys=[TokenKey.hmac(SECRET, kid="a"), TokenKey.hmac(SECRET, kid="a")]
        ),
        lambda: TokenAuthority(SECRET, signing_kid="missing"),
        lambda: TokenKey.hmac(SECRET, kid=""),
        lambda: TokenAuthority(SECRET).issue(subject=""),
        lambda: TokenAuthority(SECRET).issue(ttl=-1),
    ):
        with pytest.raises(ConfigurationError):
            bad()
