"""Issuing and verifying voicewire tokens: standard JWTs (RFC 7519), through PyJWT.

A token carries the claims ``aud`` (who it is for), ``exp`` and ``iat`` (unix seconds), ``jti``
(its unique id, what single use remembers) and ``sub`` (the subject, a user or client id, that
rate limits and resume handles are bound to), and its header names the signing key's ``kid``.
Any service holding a signing key can mint one with any JWT library; see the README.

How a token is checked, in order, each step with its own error (:mod:`.errors`):

1. its size (at most :data:`MAX_TOKEN_CHARS`) and shape, before any cryptography;
2. its header's ``alg`` is HS256, RS256 or ES256, never ``none``;
3. its ``kid`` picks the authority's keys of that id (several ids at once during a rotation;
   keys without an id take any ``kid``; a token naming none needs an unnamed key, or a single
   key), and among them the header's ``alg`` picks the one key of that algorithm: a key allows
   exactly one, so an RS256 public key is never used as an HS256 secret (algorithm confusion);
4. the signature, then ``aud`` (and ``iss`` when the authority has an issuer);
5. the required claims and their types, and the times against the authority's clock with a small
   leeway (:data:`DEFAULT_LEEWAY`, 5 s, for clocks that differ between the minting service and
   this server): ``exp`` not passed, ``iat`` and ``nbf`` not in the future, and a lifetime
   ``exp - iat`` no longer than ``max_lifetime`` (one day by default), which also bounds how long
   single use must remember an id;
6. single use (optional): the ``jti`` is claimed once through a :class:`.ReplayGuard` (in memory
   by default; the state backend's shared one across processes and machines).

Keys: a shared ``secret`` (HS256, as before: the server mints and verifies), or ``keys`` holding
only public halves (RS256/ES256 from PEM or JWKS, or a JWKS URL via :class:`.RemoteJwks`) so that
the voice server verifies tokens an auth service mints and cannot mint one itself. A generated
secret (no ``secret`` and no ``keys``) dies with the process: give every worker the same one.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import jwt

from voicewire.protocol import ConfigurationError, TokenCredential

from .errors import (
    TokenAudienceError,
    TokenClaims,
    TokenExpiredError,
    TokenKeyError,
    TokenMalformedError,
    TokenNotYetValidError,
    TokenReplayError,
    TokenSignatureError,
)
from .keys import ALGORITHMS, TokenKey, check_unique_kids
from .remote import RemoteJwks
from .replay import MemoryReplayGuard, ReplayGuard

__all__ = [
    "ANONYMOUS_SUBJECT",
    "DEFAULT_LEEWAY",
    "MAX_TOKEN_CHARS",
    "REQUIRED_CLAIMS",
    "TokenAuthority",
]

MAX_TOKEN_CHARS: Final = 8192
"""Longer strings are refused before any work. voicewire's own tokens are 250 to 600 characters;
an auth service's may carry more claims."""
DEFAULT_LEEWAY: Final = 5.0
"""Seconds of clock difference forgiven on ``exp``, ``iat`` and ``nbf``."""
DEFAULT_MAX_LIFETIME: Final = 86_400.0
REQUIRED_CLAIMS: Final = ("aud", "exp", "iat", "jti", "sub")
ANONYMOUS_SUBJECT: Final = "anonymous"
"""The ``sub`` of tokens the credential endpoint mints for callers it does not know."""
MAX_ID_CHARS: Final = 256
"""Longest ``jti``, ``sub`` or ``kid`` taken (they become keys in the state backend)."""


class TokenAuthority:
    """Issues and verifies voicewire tokens (see the module docstring for the checks).

    Args:
        secret: an HS256 key (at least 32 bytes; str is UTF-8 encoded) that signs and verifies.
            ``None`` with no ``keys`` generates a random one for this process.
        keys: further keys (:class:`.TokenKey`): verification keys by ``kid`` for rotation,
            public keys of an auth service, a private key to sign with.
        jwks: a :class:`.RemoteJwks` whose keys are verification keys too (fetched and cached).
        signing_kid: which key :meth:`issue` signs with; by default the secret, else the first
            key that can sign. An authority with no signing key only verifies.
        audience: the ``aud`` tokens are issued for and must carry.
        issuer: when set, the ``iss`` tokens are issued with and must carry.
        ttl: default lifetime in seconds.
        single_use: refuse a token's second use (until it expires).
        replay_guard: where single use remembers spent ids (default: this process's memory);
            pass the state backend to share them between processes.
        leeway: seconds of clock difference forgiven (:data:`DEFAULT_LEEWAY`).
        max_lifetime: longest ``exp - iat`` accepted, and issued.
        clock: unix time source (tests pass a fake one).
    """

    def __init__(
        self,
        secret: str | bytes | None = None,
        *,
        keys: Iterable[TokenKey] = (),
        jwks: RemoteJwks | None = None,
        signing_kid: str | None = None,
        audience: str = "voicewire",
        issuer: str | None = None,
        ttl: float = 600,
        single_use: bool = False,
        replay_guard: ReplayGuard | None = None,
        leeway: float = DEFAULT_LEEWAY,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        static = list(keys)
        if secret is not None or (not static and jwks is None):
            static.insert(0, TokenKey.hmac(secrets.token_bytes(32) if secret is None else secret))
        check_unique_kids(static)
        if not 0 < ttl <= max_lifetime:
            raise ConfigurationError(
                f"token ttl must be positive and at most max_lifetime ({max_lifetime}), got {ttl}"
            )
        if not 0 <= leeway <= 300:
            raise ConfigurationError(f"token leeway must be 0 to 300 seconds, got {leeway}")
        if not audience:
            raise ConfigurationError("the token audience must not be empty")
        self._keys = tuple(static)
        self._jwks = jwks
        self._signer = _pick_signer(static, signing_kid)
        self.audience = audience
        self.issuer = issuer
        self.ttl = ttl
        self.single_use = single_use
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self._clock = clock
        self.replay_guard: ReplayGuard = (
            MemoryReplayGuard(clock=clock) if replay_guard is None else replay_guard
        )

    def __repr__(self) -> str:  # never show a key
        kids = sorted(str(key.kid) for key in self._keys)
        return (
            f"TokenAuthority(audience={self.audience!r}, ttl={self.ttl}, "
            f"single_use={self.single_use}, kids={kids}, can_issue={self.can_issue})"
        )

    @property
    def can_issue(self) -> bool:
        """Whether this authority holds a signing key (else tokens come from elsewhere)."""
        return self._signer is not None

    @property
    def remembered(self) -> int:
        """How many spent single-use tokens the in-memory guard remembers (0 for another)."""
        guard = self.replay_guard
        return len(guard) if isinstance(guard, MemoryReplayGuard) else 0

    # -- issuing --------------------------------------------------------------------------------

    def issue(
        self,
        *,
        subject: str = ANONYMOUS_SUBJECT,
        ttl: float | None = None,
        audience: str | None = None,
    ) -> TokenCredential:
        """A fresh signed token for ``subject``, valid for ``ttl`` seconds (default: the
        authority's). Raises :class:`ConfigurationError` when the authority holds only public
        keys."""
        lifetime = self.ttl if ttl is None else ttl
        if not 0 < lifetime <= self.max_lifetime:
            raise ConfigurationError(f"token ttl must be positive and at most {self.max_lifetime}")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_ID_CHARS:
            raise ConfigurationError(f"a token subject is 1 to {MAX_ID_CHARS} characters")
        if self._signer is None:
            raise ConfigurationError(
                "this token authority holds only public keys: it verifies tokens but cannot "
                "mint them (your auth service does, with the private key)"
            )
        issued = int(self._clock())
        expires = issued + max(1, math.ceil(lifetime))  # whole seconds, never exp == iat
        claims: dict[str, Any] = {
            "aud": audience or self.audience,
            "exp": expires,
            "iat": issued,
            "jti": secrets.token_urlsafe(16),
            "sub": subject,
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        signer = self._signer
        headers = {"kid": signer.kid} if signer.kid is not None else None
        token = jwt.encode(
            claims, signer._signing_key(), algorithm=signer.algorithm, headers=headers
        )
        return TokenCredential(token, datetime.fromtimestamp(expires, UTC))

    # -- verifying ------------------------------------------------------------------------------

    def verify(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """The claims of a valid token; raises a :class:`~.errors.TokenError` subclass otherwise.

        Synchronous: a JWKS URL's keys are used as last fetched, and single use works with the
        default in-memory guard only. A server uses :meth:`redeem`.
        """
        claims = self.check(token, audience=audience)
        if self.single_use:
            guard = self.replay_guard
            if not isinstance(guard, MemoryReplayGuard):
                raise ConfigurationError(
                    "this authority's replay guard is shared and asynchronous: "
                    "use 'await authority.redeem(token)'"
                )
            if not guard.claim_now(claims.jti, claims.exp + self.leeway):
                raise _replayed()
        return claims

    async def redeem(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """Verify ``token`` and, for a single-use authority, spend it through the replay guard
        (:meth:`inspect`, then :meth:`spend`).

        Errors of a shared guard (the state backend unreachable) propagate: the caller must
        refuse the token.
        """
        claims = await self.inspect(token, audience=audience)
        await self.spend(claims)
        return claims

    async def inspect(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """Every check but single use, as :meth:`check`, with the keys brought up to date: a
        JWKS URL is fetched again (within its limits) when it is stale or the token names a
        ``kid`` it lacks, so a rotation at the auth service is picked up. Nothing is spent: a
        caller that refuses the token for another reason (a rate limit) leaves it usable."""
        if self._jwks is not None:
            await self._jwks.refresh_if_stale()
        try:
            return self.check(token, audience=audience)
        except TokenKeyError:
            if self._jwks is None or not await self._jwks.refresh_for_unknown_kid():
                raise
            return self.check(token, audience=audience)

    async def spend(self, claims: TokenClaims) -> None:
        """For a single-use authority, spend the verified token of ``claims`` (raises a
        :class:`TokenError` when it was spent already)."""
        if self.single_use and not await self.replay_guard.claim_once(
            claims.jti, claims.exp + self.leeway
        ):
            raise _replayed()

    def check(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """Every check but single use (nothing is spent): the claims of a valid token."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenMalformedError("not a voicewire token")
        if token.count(".") != 2:
            raise TokenMalformedError("not a voicewire token (a JWT has three parts)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenMalformedError("not a voicewire token (unreadable JWT header)") from None
        key = self._key_for(header)
        wanted = audience or self.audience
        try:
            payload = jwt.decode(
                token,
                key._verification_key(),
                algorithms=[key.algorithm],
                audience=wanted,
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,  # times are checked below, against self._clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_sub": False,  # and types below, with errors that name the claim
                    "verify_jti": False,
                    "verify_iss": self.issuer is not None,
                    "strict_aud": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise TokenMalformedError(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidAudienceError:
            raise TokenAudienceError("the token was issued for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenAudienceError("the token was issued by another issuer") from None
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
            raise TokenSignatureError(
                "the token signature is invalid (forged, tampered with, or another key)"
            ) from None
        except jwt.PyJWTError:
            raise TokenMalformedError("the token is not a well-formed JWT") from None
        return self._claims(payload, wanted, header.get("kid"))

    def _key_for(self, header: Mapping[str, Any]) -> TokenKey:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise TokenSignatureError(
                f"the token's algorithm {str(alg)[:20]!r} is not accepted "
                f"(only {', '.join(sorted(ALGORITHMS))})"
            )
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_ID_CHARS):
            raise TokenMalformedError("the token's kid is not a short string")
        keys = list(self._keys)
        if self._jwks is not None:
            known = {(k.kid, k.algorithm) for k in keys}
            keys += [k for k in self._jwks.keys if (k.kid, k.algorithm) not in known]
        # The keys the kid names; else the unnamed ones (they take any kid); else, for a token
        # naming none, the only key. Then the one among them whose algorithm the header names:
        # a key is only ever used with its own algorithm.
        candidates = [k for k in keys if k.kid == kid] or [k for k in keys if k.kid is None]
        if not candidates and kid is None and len(keys) == 1:
            candidates = keys
        if not candidates:
            raise TokenKeyError(
                "the token names no key id (kid) and several keys could apply"
                if kid is None
                else "the token was signed with a key this server does not know (unknown kid)"
            )
        for key in candidates:
            if key.algorithm == alg:
                return key
        allowed = " or ".join(sorted({k.algorithm for k in candidates}))
        raise TokenSignatureError(
            f"the token says {alg} but its key allows only {allowed} (refused)"
        )

    def _claims(self, payload: Mapping[str, Any], audience: str, kid: str | None) -> TokenClaims:
        jti, sub = payload["jti"], payload["sub"]
        for name, value in (("jti", jti), ("sub", sub)):
            if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
                raise TokenMalformedError(
                    f"the token's {name!r} claim is not a string of 1 to {MAX_ID_CHARS} characters"
                )
        iat, exp = _numeric(payload, "iat"), _numeric(payload, "exp")
        now, leeway = self._clock(), self.leeway
        if iat > now + leeway:
            raise TokenNotYetValidError(
                "the token was issued in the future (the minting service's clock is ahead)"
            )
        if "nbf" in payload and _numeric(payload, "nbf") > now + leeway:
            raise TokenNotYetValidError("the token is not valid yet (nbf)")
        if now >= exp + leeway:
            raise TokenExpiredError("the token has expired; fetch a new credential")
        if not 0 < exp - iat <= self.max_lifetime:
            raise TokenMalformedError(
                f"the token's lifetime (exp - iat) must be positive and at most "
                f"{self.max_lifetime:g} seconds"
            )
        return TokenClaims(jti=jti, aud=audience, iat=int(iat), exp=int(exp), sub=sub, kid=kid)


def _numeric(payload: Mapping[str, Any], name: str) -> float:
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenMalformedError(f"the token's {name!r} claim is not a number of seconds")
    return float(value)


def _replayed() -> TokenReplayError:
    return TokenReplayError("the token was already used; fetch a new credential")


def _pick_signer(keys: list[TokenKey], kid: str | None) -> TokenKey | None:
    if kid is not None:
        chosen = next((key for key in keys if key.kid == kid), None)
        if chosen is None or not chosen.can_sign:
            raise ConfigurationError(f"signing_kid {kid!r} names no key that can sign")
        return chosen
    return next((key for key in keys if key.can_sign), None)
