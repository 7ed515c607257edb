"""The keys tokens are signed and verified with, each bound to the one algorithm it allows.

A :class:`TokenKey` is either a shared secret (HS256: the same key signs and verifies) or half of
an asymmetric pair (RS256 with RSA of 2048 bits or more, ES256 with P-256). A voice server that
holds only public keys can verify tokens but never mint one, so an auth service can keep the
private key to itself and a compromised voice server cannot forge credentials.

Binding each key to one algorithm is what makes algorithm confusion impossible: a token whose
header names another algorithm than its key's is refused before any signature check, so
``alg: none`` and "HS256 signed with the RSA public key as the secret" never verify.

Keys come from a secret, a PEM (private key, public key or certificate), a JWK, or a JWKS
document (a file, or a URL: see :mod:`.remote`); from a JWKS only signature keys of a supported
algorithm are taken, and only their public halves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from voicewire.protocol import ConfigurationError

__all__ = [
    "ALGORITHMS",
    "MIN_RSA_BITS",
    "MIN_SECRET_BYTES",
    "Algorithm",
    "TokenKey",
    "keys_from_jwks",
    "load_jwks_file",
]

Algorithm = Literal["HS256", "RS256", "ES256"]
ALGORITHMS: Final[frozenset[str]] = frozenset({"HS256", "RS256", "ES256"})
"""The only algorithms a token may name. ``none`` is never among them."""
_PUBLIC: Final = frozenset({"RS256", "ES256"})

MIN_SECRET_BYTES: Final = 32
"""RFC 7518 section 3.2: an HS256 key is at least as long as the hash (256 bits)."""
MIN_RSA_BITS: Final = 2048

log = logging.getLogger("voicewire.server")

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class TokenKey:
    """One key, the algorithm it allows, and its id (``kid``) for rotation.

    Build it with :meth:`hmac`, :meth:`from_pem` or :meth:`from_jwk`. Its ``repr`` names the
    algorithm and kid, never the key.

    Attributes:
        algorithm: ``"HS256"``, ``"RS256"`` or ``"ES256"``: the only one this key verifies.
        kid: the key id a token's header names to pick this key (``None``: unnamed).
    """

    __slots__ = ("_signer", "_verifier", "algorithm", "kid")

    def __init__(
        self,
        algorithm: Algorithm,
        verifier: bytes | PublicKey,
        signer: bytes | PrivateKey | None,
        kid: str | None,
    ) -> None:
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise ConfigurationError("a key id (kid) must be a non-empty string")
        self.algorithm: Algorithm = algorithm
        self.kid = kid
        self._verifier = verifier
        self._signer = signer

    def __repr__(self) -> str:  # never show the key
        return f"TokenKey(algorithm={self.algorithm!r}, kid={self.kid!r}, signs={self.can_sign})"

    def __reduce__(self) -> Any:
        raise TypeError("a TokenKey is not pickled (it would carry the key)")

    @property
    def can_sign(self) -> bool:
        """Whether this key can mint tokens (a secret or a private key)."""
        return self._signer is not None

    @classmethod
    def hmac(cls, secret: str | bytes, *, kid: str | None = None) -> TokenKey:
        """A shared HS256 secret (at least 32 bytes; a str is UTF-8 encoded)."""
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not isinstance(key, bytes) or len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"the token secret must be at least {MIN_SECRET_BYTES} bytes; "
                "use secrets.token_urlsafe(32) or leave it unset to generate one"
            )
        if _looks_like_pem(key):
            raise ConfigurationError(
                "the token secret looks like a PEM key; pass it as a public or private key"
            )
        return cls("HS256", key, key, kid)

    @classmethod
    def from_pem(
        cls, pem: str | bytes, *, kid: str | None = None, password: bytes | None = None
    ) -> TokenKey:
        """An RS256 or ES256 key from PEM: a private key (signs and verifies), a public key or
        an X.509 certificate (verifies only). The algorithm follows from the key type."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        loaded: Any
        try:
            if b"PRIVATE KEY" in data:
                loaded = serialization.load_pem_private_key(data, password=password)
            elif b"CERTIFICATE" in data:
                loaded = x509.load_pem_x509_certificate(data).public_key()
            else:
                loaded = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"not a usable PEM key: {type(exc).__name__}") from None
        return cls._from_key(loaded, kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, public_only: bool = False) -> TokenKey:
        """An RS256 or ES256 key from a JWK (RFC 7517); its ``kid`` comes along. A JWK's
        ``alg``, when present, must agree with its key type. ``public_only`` drops a private
        part (what a verifier should hold)."""
        if jwk.get("kty") == "oct":
            raise ConfigurationError(
                "a symmetric (oct) JWK is not taken; pass a shared secret with TokenKey.hmac"
            )
        try:
            parsed = jwt.PyJWK(dict(jwk))
        except jwt.PyJWTError as exc:
            raise ConfigurationError(f"not a usable JWK: {_first_line(exc)}") from None
        if parsed.algorithm_name not in ALGORITHMS:
            raise ConfigurationError(
                f"JWK algorithm {parsed.algorithm_name!r} is not one of RS256, ES256"
            )
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise ConfigurationError("a JWK's kid must be a string")
        key = cls._from_key(parsed.key, kid, public_only=public_only)
        if key.algorithm != parsed.algorithm_name:
            raise ConfigurationError(
                f"JWK alg {parsed.algorithm_name!r} does not fit its key ({key.algorithm})"
            )
        return key

    @classmethod
    def _from_key(cls, loaded: Any, kid: str | None, *, public_only: bool = False) -> TokenKey:
        private: PrivateKey | None = None
        if isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            private, loaded = loaded, loaded.public_key()
        if isinstance(loaded, rsa.RSAPublicKey):
            if loaded.key_size < MIN_RSA_BITS:
                raise ConfigurationError(
                    f"an RSA key of {loaded.key_size} bits is too weak (at least {MIN_RSA_BITS})"
                )
            algorithm: Algorithm = "RS256"
        elif isinstance(loaded, ec.EllipticCurvePublicKey):
            if not isinstance(loaded.curve, ec.SECP256R1):
                raise ConfigurationError(
                    f"an EC key on {loaded.curve.name} is not taken: ES256 needs P-256"
                )
            algorithm = "ES256"
        else:
            raise ConfigurationError(
                f"only RSA (RS256) and P-256 EC (ES256) keys are taken, got {type(loaded).__name__}"
            )
        return cls(algorithm, loaded, None if public_only else private, kid)

    def public_jwk(self) -> dict[str, Any]:
        """This key's public half as a JWK (with ``kid``, ``alg`` and ``use``), to publish in
        a JWKS. A shared secret has no public half."""
        if isinstance(self._verifier, bytes):
            raise ConfigurationError("an HS256 secret has no public JWK")
        algo = jwt.get_algorithm_by_name(self.algorithm)
        jwk = algo.to_jwk(self._verifier, as_dict=True)
        jwk.update({"alg": self.algorithm, "use": "sig"})
        if self.kid is not None:
            jwk["kid"] = self.kid
        return jwk

    # For the authority (same package): the raw material PyJWT takes.
    def _verification_key(self) -> bytes | PublicKey:
        return self._verifier

    def _signing_key(self) -> bytes | PrivateKey:
        if self._signer is None:
            raise ConfigurationError(
                f"key {self.kid!r} is a public key: this server verifies tokens but cannot mint "
                "them (your auth service does, with the private key)"
            )
        return self._signer


def keys_from_jwks(document: Mapping[str, Any]) -> list[TokenKey]:
    """The signature keys of a JWKS document (``{"keys": [...]}``), public halves only.

    Keys for encryption (``use: enc``), of another algorithm (PS256, EdDSA, HS256, ...) or
    symmetric are skipped, and so is a key that cannot be read (logged with its kid), so one odd
    entry does not take the others down; a document with no usable key, or with two keys of one
    kid and algorithm, is refused.
    """
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ConfigurationError('a JWKS is a JSON object with a "keys" list')
    keys: list[TokenKey] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC") or entry.get("alg", "RS256") not in _PUBLIC:
            continue
        try:
            keys.append(TokenKey.from_jwk(entry, public_only=True))
        except ConfigurationError as exc:
            log.warning("skipped JWKS key %r: %s", str(entry.get("kid"))[:64], exc.message)
    if not keys:
        raise ConfigurationError("the JWKS holds no usable RS256 or ES256 signature key")
    check_unique_kids(keys)
    return keys


def load_jwks_file(path: str | Path) -> list[TokenKey]:
    """The signature keys of a JWKS file (see :func:`keys_from_jwks`)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the JWKS file {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigurationError(f"the JWKS file {path} is not JSON") from None
    return keys_from_jwks(document)


def check_unique_kids(keys: Iterable[TokenKey]) -> None:
    """Refuse two keys of one algorithm under one kid (a token naming it would be ambiguous).
    Keys of different algorithms may share one (an unnamed secret beside an unnamed public key):
    the token's ``alg`` tells them apart, and each key only ever verifies its own."""
    seen: set[tuple[str | None, str]] = set()
    for key in keys:
        if (key.kid, key.algorithm) in seen:
            raise ConfigurationError(f"two {key.algorithm} token keys share the kid {key.kid!r}")
        seen.add((key.kid, key.algorithm))


def _looks_like_pem(key: bytes) -> bool:
    return b"-----BEGIN" in key or key.lstrip().startswith(b"ssh-")


def _first_line(exc: BaseException) -> str:
    # PyJWT quotes the whole JWK (private parts included) in some messages: keep its kind only.
    return type(exc).__name__
