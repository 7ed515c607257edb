"""Ephemeral tokens of the fake Gemini Live server: ``POST /v1alpha/auth_tokens`` and their use.

What the real service documents, and what the fake does:

* A token is minted with the API key (header ``x-goog-api-key``). The body may set ``uses``
  (default 1; 0 = unlimited), ``expireTime`` (default now + 30 min: no message after it) and
  ``newSessionExpireTime`` (default now + 60 s: no new session after it), and lock a setup
  (``bidiGenerateContentSetup``; its fields override the client's ``setup``). The answer is
  ``{"name": "auth_tokens/...", "expireTime", "newSessionExpireTime", "uses"}``.
* Opening a new session spends a use. Resuming one does not, per the documentation; users report
  that it does (Gemini then closes with 1011 "Token has been used too many times"), which
  ``resume_spends_use=True`` reproduces.

Every answer is JSON in Google's error shape (``{"error": {"code", "message", "status"}}``).
Nothing here logs or echoes a key or a token.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from ..gemini_validation import check_gemini_client

__all__ = ["Token", "TokenBook", "TokenRefusal"]

TOKEN_PATH = "/v1alpha/auth_tokens"
_BODY_KEYS = frozenset(
    {"expireTime", "newSessionExpireTime", "uses", "bidiGenerateContentSetup", "fieldMask"}
)


@dataclass(eq=False)
class Token:
    """A minted token and what is left of it."""

    name: str
    expire_time: datetime
    new_session_expire_time: datetime
    uses: int
    used: int = 0
    locked_setup: dict[str, Any] = field(default_factory=dict)

    @property
    def exhausted(self) -> bool:
        return self.uses != 0 and self.used >= self.uses


@dataclass(frozen=True, slots=True)
class TokenRefusal:
    """Why a token cannot open (or resume) a session: the close code and reason Gemini sends."""

    code: int
    reason: str


class TokenBook:
    """The tokens a fake server minted, with their counters.

    Attributes:
        tokens: every token by name.
        requests: the parsed body of every mint request, in order.
        problems: what was wrong in mint requests (also added to the server's violations).
        resume_spends_use: whether a resumption spends a use (the reported reality) or not
            (the documentation).
    """

    def __init__(self, *, resume_spends_use: bool = False) -> None:
        self.tokens: dict[str, Token] = {}
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.resume_spends_use = resume_spends_use

    def mint(self, body: bytes, now: datetime | None = None) -> tuple[HTTPStatus, dict[str, Any]]:
        """Answer a ``POST /v1alpha/auth_tokens`` body (the key was already checked)."""
        now = now or datetime.now(UTC)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error(HTTPStatus.BAD_REQUEST, "Invalid JSON payload received.")
        if not isinstance(request, dict):
            return _error(HTTPStatus.BAD_REQUEST, "Invalid JSON payload received.")
        self.requests.append(request)
        unknown = sorted(set(request) - _BODY_KEYS)
        if unknown:
            self.problems.append(f"auth_tokens: unknown keys {unknown}")
            return _error(
                HTTPStatus.BAD_REQUEST,
                f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.',
            )
        try:
            expire = _time(request.get("expireTime"), now + timedelta(minutes=30))
            new_session = _time(request.get("newSessionExpireTime"), now + timedelta(seconds=60))
            uses = request.get("uses", 1)
            if isinstance(uses, str) and uses.isdigit():
                uses = int(uses)
            if not isinstance(uses, int) or isinstance(uses, bool) or uses < 0:
                raise ValueError(f"uses must be a non-negative integer, got {uses!r}")
        except ValueError as exc:
            self.problems.append(f"auth_tokens: {exc}")
            return _error(HTTPStatus.BAD_REQUEST, f"Invalid value: {exc}")
        locked = request.get("bidiGenerateContentSetup")
        if locked is not None:
            problems, _ = check_gemini_client({"setup": locked})
            if problems or not isinstance(locked, dict):
                self.problems.extend(f"auth_tokens.bidiGenerateContentSetup: {p}" for p in problems)
                return _error(HTTPStatus.BAD_REQUEST, "Invalid bidiGenerateContentSetup.")
        token = Token(
            name=f"auth_tokens/{secrets.token_hex(16)}",
            expire_time=expire,
            new_session_expire_time=new_session,
            uses=uses,
            locked_setup=dict(locked or {}),
        )
        self.tokens[token.name] = token
        return HTTPStatus.OK, {
            "name": token.name,
            "expireTime": _format(expire),
            "newSessionExpireTime": _format(new_session),
            "uses": uses,
        }

    def admit(
        self, name: str, *, resuming: bool, now: datetime | None = None
    ) -> Token | TokenRefusal:
        """Spend a use of token ``name`` to open (or resume) a session, or say why not."""
        now = now or datetime.now(UTC)
        token = self.tokens.get(name)
        if token is None:
            return TokenRefusal(1008, "Invalid or unknown ephemeral token.")
        if now >= token.expire_time:
            return TokenRefusal(1008, "The ephemeral token has expired.")
        if not resuming and now >= token.new_session_expire_time:
            return TokenRefusal(
                1008, "The ephemeral token can no longer start new sessions (newSessionExpireTime)."
            )
        if not resuming or self.resume_spends_use:
            if token.exhausted:
                return TokenRefusal(1011, "Token has been used too many times.")
            token.used += 1
        return token

    def expired(self, name: str | None, now: datetime | None = None) -> bool:
        """Whether a session opened with token ``name`` must stop (its expireTime passed)."""
        token = self.tokens.get(name) if name else None
        return token is not None and (now or datetime.now(UTC)) >= token.expire_time


def _time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"a timestamp must be an RFC 3339 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"a timestamp needs a time zone: {value!r}")
    return parsed


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error(status: HTTPStatus, message: str) -> tuple[HTTPStatus, dict[str, Any]]:
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
    return status, {
        "error": {
            "code": int(status),
            "message": message,
            "status": names.get(int(status), "UNKNOWN"),
        }
    }


def rest_error(status: HTTPStatus, message: str) -> tuple[HTTPStatus, dict[str, Any]]:
    """A REST error in Google's shape."""
    return _error(status, message)
