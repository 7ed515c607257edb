"""``voicewire serve``'s token options: which keys sign and verify voicewire tokens.

The options carry paths, a URL and the secret, never loaded keys: the worker processes of
``--workers N`` each build the app from them (a loaded :class:`~voicewire.server.tokens.TokenKey`
refuses to be pickled, so no key travels between processes), and every worker reads the same
files. Without a secret and without keys, ``voicewire serve`` generates one secret per run and
gives it to all its workers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..protocol import ConfigurationError

if TYPE_CHECKING:
    from ..server.tokens import TokenKey

__all__ = ["SECRET_ENV", "TokenOptions"]

SECRET_ENV = "VOICEWIRE_TOKEN_SECRET"
"""The environment variable ``--token-secret`` reads (a flag's value shows in ``ps``)."""


@dataclass(frozen=True, repr=False)
class TokenOptions:
    """What ``voicewire serve --token-*`` says about tokens.

    Attributes:
        secret: the shared HS256 secret (signs and verifies), or ``None``.
        public_keys: ``[KID=]PATH`` of PEM keys or certificates that verify tokens (an auth
            service's public keys; a private key here also signs).
        jwks: a JWKS file path, or an ``https://`` URL fetched and cached.
        issuer: the ``iss`` tokens must carry.
        audience: the ``aud`` tokens must carry.
    """

    secret: str | None = None
    public_keys: tuple[str, ...] = ()
    jwks: str | None = None
    issuer: str | None = None
    audience: str = "voicewire"

    def __repr__(self) -> str:  # never show the secret
        return (
            f"TokenOptions(secret={'***' if self.secret else None}, "
            f"public_keys={self.public_keys!r}, jwks={self.jwks!r}, issuer={self.issuer!r}, "
            f"audience={self.audience!r})"
        )

    @property
    def verify_only(self) -> bool:
        """Keys of an auth service and no secret: this server mints no tokens."""
        return self.secret is None and bool(self.public_keys or self.jwks)

    def shared(self) -> TokenOptions:
        """These options with a generated secret when they name no key at all, so that every
        worker of one run shares it."""
        if self.secret is None and not self.verify_only:
            return replace(self, secret=secrets.token_urlsafe(32))
        return self

    def app_options(self) -> dict[str, Any]:
        """The ``create_app`` keyword arguments (reads the key files; raises
        :class:`ConfigurationError` with a clear message when one is unusable)."""
        from ..server.tokens import RemoteJwks, load_jwks_file

        keys: list[TokenKey] = [_pem_key(spec) for spec in self.public_keys]
        remote = None
        if self.jwks is not None:
            if self.jwks.startswith(("https://", "http://")):
                remote = RemoteJwks(self.jwks)
            else:
                keys.extend(load_jwks_file(self.jwks))
        return {
            "secret": self.secret,
            "token_keys": keys,
            "token_jwks": remote,
            "token_issuer": self.issuer,
            "audience": self.audience,
        }


def _pem_key(spec: str) -> TokenKey:
    from ..server.tokens import TokenKey

    kid, sep, path = spec.partition("=")
    if not sep:
        kid, path = "", spec
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the token key {path}: {exc.strerror}") from None
    return TokenKey.from_pem(pem, kid=kid or None)
