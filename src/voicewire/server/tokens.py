"""voicewire's own short-lived credentials: what a browser gets instead of a provider API key.

A token is ``vw1.<payload>.<signature>``: the payload is compact JSON ``{"aud", "exp", "iat",
"jti"}`` in unpadded base64url, and the signature is HMAC-SHA256 over ``vw1.<payload>`` with the
server's secret, also base64url. The signature is checked (in constant time) before the payload is
even parsed, so a forged or tampered token never reaches the JSON parser.

The secret comes from the app's configuration or is generated at start. A generated secret dies
with the process: tokens minted before a restart, or by another worker, are refused. Give every
worker the same secret to share tokens between them.

Single use (optional) remembers each verified ``jti`` until the token expires, in memory: it
protects one process. A reconnecting client needs a fresh token when single use is on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from voicewire.protocol import (
    AuthenticationError,
    ConfigurationError,
    CredentialExpiredError,
    TokenCredential,
)

__all__ = [
    "TOKEN_PREFIX",
    "TokenAudienceError",
    "TokenAuthority",
    "TokenClaims",
    "TokenError",
    "TokenExpiredError",
    "TokenMalformedError",
    "TokenReplayError",
    "TokenSignatureError",
]

TOKEN_PREFIX = "vw1"
MIN_SECRET_BYTES = 16
MAX_TOKEN_CHARS = 1024
"""Longer strings are refused before any work: a real token is about 150 characters."""


class TokenError(AuthenticationError):
    """A voicewire token was refused. Messages never contain the token."""

    code = "invalid_token"


class TokenMalformedError(TokenError):
    """Not a voicewire token at all (wrong shape, prefix or encoding)."""

    code = "malformed_token"


class TokenSignatureError(TokenError):
    """The signature does not match: forged, tampered with, or signed with another secret."""

    code = "invalid_token_signature"


class TokenExpiredError(TokenError, CredentialExpiredError):
    code = "token_expired"


class TokenAudienceError(TokenError):
    """Signed by this server, but for another audience (another endpoint or app)."""

    code = "wrong_token_audience"


class TokenReplayError(TokenError):
    """A single-use token presented a second time."""

    code = "token_replayed"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says; times are unix seconds."""

    jti: str
    aud: str
    iat: int
    exp: int

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


class TokenAuthority:
    """Issues and verifies voicewire tokens.

    Args:
        secret: the HMAC key (at least 16 bytes; str is UTF-8 encoded). ``None`` generates a
            random 32-byte key for this process.
        audience: the ``aud`` tokens are issued for and must carry to verify.
        ttl: default lifetime in seconds.
        single_use: refuse a token's second use (until it expires).
        clock: unix time source (tests pass a fake one).
    """

    def __init__(
        self,
        secret: str | bytes | None = None,
        *,
        audience: str = "voicewire",
        ttl: float = 600,
        single_use: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = secrets.token_bytes(32) if secret is None else secret
        if isinstance(key, str):
            key = key.encode("utf-8")
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"the token secret must be at least {MIN_SECRET_BYTES} bytes; "
                "use secrets.token_urlsafe(32) or leave it unset to generate one"
            )
        if ttl <= 0:
            raise ConfigurationError(f"token ttl must be positive, got {ttl}")
        if not audience:
            raise ConfigurationError("the token audience must not be empty")
        self._key = key
        self.audience = audience
        self.ttl = ttl
        self.single_use = single_use
        self._clock = clock
        self._used: set[str] = set()
        self._expiries: list[tuple[int, str]] = []  # heap of (exp, jti) for pruning _used

    def __repr__(self) -> str:  # never show the key
        return (
            f"TokenAuthority(audience={self.audience!r}, ttl={self.ttl}, "
            f"single_use={self.single_use})"
        )

    def issue(self, *, ttl: float | None = None, audience: str | None = None) -> TokenCredential:
        """A fresh signed token, valid for ``ttl`` seconds (default: the authority's)."""
        lifetime = self.ttl if ttl is None else ttl
        now = self._clock()
        expires = int(now + lifetime)
        claims = {
            "aud": audience or self.audience,
            "exp": expires,
            "iat": int(now),
            "jti": secrets.token_urlsafe(16),
        }
        payload = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{TOKEN_PREFIX}.{payload}"
        token = f"{signed}.{_b64encode(self._sign(signed))}"
        return TokenCredential(token, datetime.fromtimestamp(expires, UTC))

    def verify(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """The claims of a valid token; raises a :class:`TokenError` subclass otherwise."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenMalformedError("not a voicewire token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise TokenMalformedError("not a voicewire token")
        try:
            signature = _b64decode(parts[2])
        except (binascii.Error, ValueError):
            raise TokenMalformedError("the token signature is not base64url") from None
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}")):
            raise TokenSignatureError("the token signature is invalid (forged or tampered with)")
        claims = self._claims(parts[1])
        if claims.aud != (audience or self.audience):
            raise TokenAudienceError("the token was issued for another audience")
        now = self._clock()
        if now >= claims.exp:
            raise TokenExpiredError("the token has expired; fetch a new credential")
        if self.single_use:
            self._prune(now)
            if claims.jti in self._used:
                raise TokenReplayError("the token was already used; fetch a new credential")
            self._used.add(claims.jti)
            heapq.heappush(self._expiries, (claims.exp, claims.jti))
        return claims

    @property
    def remembered(self) -> int:
        """How many used single-use tokens are remembered (until they expire)."""
        return len(self._used)

    def _sign(self, signed: str) -> bytes:
        return hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()

    @staticmethod
    def _claims(payload: str) -> TokenClaims:
        # Only reached with a valid signature, so a failure here is a bug or a leaked secret.
        try:
            data = json.loads(_b64decode(payload))
            claims = TokenClaims(jti=data["jti"], aud=data["aud"], iat=data["iat"], exp=data["exp"])
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise TokenMalformedError("the token payload is malformed") from None
        if not (
            isinstance(claims.jti, str)
            and isinstance(claims.aud, str)
            and type(claims.iat) is int
            and type(claims.exp) is int
        ):
            raise TokenMalformedError("the token payload is malformed")
        return claims

    def _prune(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, jti = heapq.heappop(expiries)
            self._used.discard(jti)
