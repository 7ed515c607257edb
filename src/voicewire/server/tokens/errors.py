"""Why a voicewire token was refused, and what an accepted one says.

Each refusal is its own class with a stable ``code`` (the HTTP 401 body carries it), so a client
can tell "fetch a new credential" (expired, replayed) from "this will never work" (forged, wrong
audience, unknown key). Messages never quote the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from voicewire.protocol import AuthenticationError, CredentialExpiredError

__all__ = [
    "TokenAudienceError",
    "TokenClaims",
    "TokenError",
    "TokenExpiredError",
    "TokenKeyError",
    "TokenMalformedError",
    "TokenNotYetValidError",
    "TokenReplayError",
    "TokenSignatureError",
]


class TokenError(AuthenticationError):
    """A voicewire token was refused. Messages never contain the token."""

    code = "invalid_token"


class TokenMalformedError(TokenError):
    """Not a JWT this server takes: wrong shape or encoding, a required claim missing or of the
    wrong type, or a lifetime longer than the server allows."""

    code = "malformed_token"


class TokenSignatureError(TokenError):
    """The signature does not match: forged, tampered with, signed with another key, or with an
    algorithm the key does not allow (``none``, or HS256 where the key is RS256/ES256)."""

    code = "invalid_token_signature"


class TokenKeyError(TokenSignatureError):
    """Signed with a key this server does not know (an unknown ``kid``, or no ``kid`` where
    several keys could apply)."""

    code = "unknown_token_key"


class TokenExpiredError(TokenError, CredentialExpiredError):
    """Past its ``exp`` (plus the authority's leeway): fetch a new credential."""

    code = "token_expired"


class TokenNotYetValidError(TokenError):
    """Issued in the future or not valid before a later time (``iat``/``nbf`` beyond the
    leeway): the minting service's clock is ahead of this server's."""

    code = "token_not_yet_valid"


class TokenAudienceError(TokenError):
    """Validly signed, but for another audience (another endpoint or app)."""

    code = "wrong_token_audience"


class TokenReplayError(TokenError):
    """A single-use token presented a second time."""

    code = "token_replayed"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says; times are unix seconds.

    Attributes:
        jti: the token's unique id (what single use remembers).
        aud: the audience it was accepted for.
        iat: when it was issued.
        exp: when it expires.
        sub: the subject (a user or client id) that rate limits and resume handles are bound to.
        kid: the id of the key that signed it, if its header named one.
    """

    jti: str
    aud: str
    iat: int
    exp: int
    sub: str
    kid: str | None = None

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)
