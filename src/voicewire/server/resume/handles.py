"""Resume handles: ``vwr1.<id>.<subject tag>.<signature>``, all base64url.

* ``id`` names the stored conversation (random, 144 bits);
* ``subject tag`` is an HMAC of the token's subject, so the handle is bound to it without
  showing it, and a handle presented under another subject is told apart from a forged one;
* ``signature`` is an HMAC-SHA256 of the rest, with a key derived from the app's secret (every
  instance sharing the secret verifies every other's handles).

A handle does not expire by itself: the conversation it names does, ``resume_ttl`` seconds after
its last change (see :mod:`voicewire.server.state.backend`). Handles are secrets of their
holder: they are never logged, and no error message repeats one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import parse_qs

from voicewire.protocol import RealtimeError

__all__ = [
    "HANDLE_EVENT_PARAM",
    "HANDLE_EVENT_TYPE",
    "RESUME_HANDLE_HEADER",
    "RESUME_REQUEST_HEADER",
    "ResumeHandles",
    "ResumeRefused",
    "handle_event_wanted",
    "requested_handle",
]

RESUME_HANDLE_HEADER = "x-voicewire-resume-handle"
"""The upgrade response header that carries a session's handle."""
RESUME_REQUEST_HEADER = "x-voicewire-resume"
"""The request header a client resumes with (``?resume=`` in the URL does the same)."""
HANDLE_EVENT_PARAM = "voicewire_resume"
"""The query parameter (``?voicewire_resume=1``) by which a client that cannot read upgrade
response headers (a browser) asks for its handle in a :data:`HANDLE_EVENT_TYPE` event."""
HANDLE_EVENT_TYPE = "voicewire.resume_handle"
"""The event ``{"type": "voicewire.resume_handle", "handle": ...}`` sent after
``session.created`` to a client that asked for it (never to one that did not: the OpenAI Agents
SDK turns event types it does not know into errors)."""
_VERSION = "vwr1"
_MAX_HANDLE = 200


class ResumeRefused(RealtimeError):
    """A handle that resumes nothing: malformed or forged (``resume_handle_invalid``), another
    subject's (``resume_subject_mismatch``), or naming a conversation that expired or ended
    (``resume_handle_expired``). The message never repeats the handle."""

    code = "resume_handle_invalid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ResumeHandles:
    """Mints and checks resume handles with one key (see the module docstring).

    Args:
        secret: the app's token secret (the key is derived from it, never the secret itself);
            ``None``: a random key of this process (handles then resume within it only).
    """

    def __init__(self, secret: str | bytes | None) -> None:
        if secret is None:
            key = secrets.token_bytes(32)
        else:
            raw = secret.encode() if isinstance(secret, str) else secret
            key = hmac.new(raw, b"voicewire resume handle v1", hashlib.sha256).digest()
        self._key = key

    def __repr__(self) -> str:  # never the key
        return "ResumeHandles()"

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, ".".join(parts).encode(), hashlib.sha256).digest())

    def _tag(self, subject: str) -> str:
        return self._mac("sub", subject)[:16]

    def mint(self, subject: str) -> tuple[str, str]:
        """A new handle for ``subject``: ``(handle, id)``."""
        handle_id = secrets.token_urlsafe(18)
        return self._sign(handle_id, subject), handle_id

    def _sign(self, handle_id: str, subject: str) -> str:
        body = f"{_VERSION}.{handle_id}.{self._tag(subject)}"
        return f"{body}.{self._mac(body)}"

    def check(self, handle: str, subject: str) -> str:
        """The conversation id ``handle`` names, if it is genuine and ``subject``'s; else
        :class:`ResumeRefused`."""
        parts = handle.split(".") if len(handle) <= _MAX_HANDLE else []
        if len(parts) != 4 or parts[0] != _VERSION:
            raise ResumeRefused("the resume handle is malformed")
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._mac(body)):
            raise ResumeRefused("the resume handle was not issued by this service")
        if not hmac.compare_digest(parts[2], self._tag(subject)):
            raise ResumeRefused(
                "the resume handle belongs to another subject than this token's",
                code="resume_subject_mismatch",
            )
        return parts[1]


def requested_handle(headers: Mapping[str, str], query_string: bytes) -> str | None:
    """The handle a connection asks to resume (header first, then ``?resume=``), if any."""
    handle = headers.get(RESUME_REQUEST_HEADER)
    if handle is None:
        handle = _query_value(query_string, "resume")
    return handle.strip() if handle else None


def handle_event_wanted(query_string: bytes) -> bool:
    """Whether the connection asked for its handle as an event (``?voicewire_resume=1``)."""
    return _query_value(query_string, HANDLE_EVENT_PARAM) not in (None, "0", "false")


def _query_value(query_string: bytes, name: str) -> str | None:
    """The first value of ``name`` in the query string, if it has one."""
    values = parse_qs(query_string.decode("latin-1")).get(name)
    return values[0] if values else None
