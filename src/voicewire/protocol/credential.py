"""Ephemeral client credentials (the seed's ``ClientCredential`` and ``CredentialInput``).

A credential travels as JSON ``{"kind": "token", "token": ..., "expiresAt": "<ISO 8601>"}`` or
``{"kind": "url", "url": ..., "expiresAt": ...}``; parsing accepts a ``datetime`` or an ISO string
for ``expiresAt``, and the ``{"credential": {...}}`` envelope a credential endpoint returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from .errors import ConfigurationError


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TokenCredential:
    """A short-lived bearer token (OpenAI/xAI client secrets, Gemini tokens, voicewire tokens)."""

    token: str
    expires_at: datetime
    kind: ClassVar[Literal["token"]] = "token"

    def __post_init__(self) -> None:
        if not self.token:
            raise ConfigurationError("a token credential needs a non-empty token")
        object.__setattr__(self, "expires_at", _aware(self.expires_at))

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at

    def __repr__(self) -> str:  # never print the secret
        return f"TokenCredential(token='***', expires_at={self.expires_at.isoformat()!r})"


@dataclass(frozen=True, slots=True)
class UrlCredential:
    """A pre-signed WebSocket URL (ElevenLabs signed URLs)."""

    url: str
    expires_at: datetime
    kind: ClassVar[Literal["url"]] = "url"

    def __post_init__(self) -> None:
        if not self.url:
            raise ConfigurationError("a url credential needs a non-empty url")
        object.__setattr__(self, "expires_at", _aware(self.expires_at))

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at

    def __repr__(self) -> str:
        return f"UrlCredential(url='***', expires_at={self.expires_at.isoformat()!r})"


ClientCredential = TokenCredential | UrlCredential
CredentialInput = ClientCredential | Mapping[str, Any]


def parse_expiry(value: object) -> datetime:
    """Accept a datetime, an ISO 8601 string (``Z`` allowed) or unix seconds."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, bool):
        raise ConfigurationError(f"expiresAt must be a datetime or ISO 8601 string, got {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            raise ConfigurationError(f"expiresAt is not an ISO 8601 date: {value!r}") from None
    raise ConfigurationError(f"expiresAt must be a datetime or ISO 8601 string, got {value!r}")


def credential_from_json(data: CredentialInput) -> ClientCredential:
    """Build a credential from its JSON form (or pass one through unchanged)."""
    if isinstance(data, TokenCredential | UrlCredential):
        return data
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"a credential must be an object, got {type(data).__name__}")
    if "credential" in data and isinstance(data["credential"], Mapping):
        data = data["credential"]
    kind = data.get("kind")
    expires = data.get("expiresAt", data.get("expires_at"))
    if expires is None:
        raise ConfigurationError("a credential needs expiresAt")
    if kind == "token":
        token = data.get("token")
        if not isinstance(token, str):
            raise ConfigurationError("a token credential needs a string 'token'")
        return TokenCredential(token, parse_expiry(expires))
    if kind == "url":
        url = data.get("url")
        if not isinstance(url, str):
            raise ConfigurationError("a url credential needs a string 'url'")
        return UrlCredential(url, parse_expiry(expires))
    raise ConfigurationError(f"unknown credential kind {kind!r}; expected 'token' or 'url'")


def credential_to_json(credential: ClientCredential) -> dict[str, str]:
    expires = credential.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(credential, TokenCredential):
        return {"kind": "token", "token": credential.token, "expiresAt": expires}
    return {"kind": "url", "url": credential.url, "expiresAt": expires}
