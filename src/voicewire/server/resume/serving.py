"""What the ``WS /v1/realtime`` endpoint does for resumable sessions: check the handle a
connection brings (or mint one), and give the new session and its relay the stored conversation
and the writer that keeps it (see :mod:`voicewire.server.resume`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from voicewire.protocol import ConfigurationError
from voicewire.session import RealtimeSession

from ..relay import Relay
from ..state import StateBackend, StoredSession
from .handles import (
    HANDLE_EVENT_TYPE,
    ResumeHandles,
    ResumeRefused,
    handle_event_wanted,
    requested_handle,
)
from .store import ConversationStore, restore
from .writer import ConversationWriter

__all__ = ["MAX_RESUME_TTL", "STATUS_OF", "Resumer", "Resumption", "resume_ttl_problem"]

MAX_RESUME_TTL = 30 * 24 * 3600.0
"""The longest ``resume_ttl``: 30 days. Redis takes an expiry only while it fits, with the time
now, in a 64-bit count of milliseconds (``SET ... PX`` and ``PEXPIRE`` refuse more), and the
in-memory backend takes any number; a longer value is a mistake (a unit slip), refused when the
app is made rather than by every write to Redis later."""


def resume_ttl_problem(ttl: float) -> str | None:
    """What is wrong with ``ttl`` as a ``resume_ttl`` (``None``: nothing): it must be a number of
    seconds above 0 and at most :data:`MAX_RESUME_TTL` (``nan`` and ``inf`` are not)."""
    if 0 < ttl <= MAX_RESUME_TTL:
        return None
    return (
        f"must be a positive number of seconds, at most {MAX_RESUME_TTL:.0f} (30 days), got {ttl:g}"
    )


@dataclass(frozen=True, slots=True)
class Resumption:
    """The handle a connection is served under, the conversation it brings back (``None``: a
    new one), and whether the client asked to be told the handle in an event (``announce``)."""

    handle: str
    handle_id: str
    stored: StoredSession | None
    announce: bool = False

    def __repr__(self) -> str:  # never the handle
        return f"Resumption(resumed={self.stored is not None})"


class Resumer:
    """Resume handles and conversation storage for one app.

    Args:
        handles: mints and checks handles.
        state: where conversations are stored.
        ttl: seconds a conversation is kept after its last change.

    Raises:
        ConfigurationError: ``ttl`` is not above 0 and at most :data:`MAX_RESUME_TTL`.
    """

    def __init__(self, handles: ResumeHandles, state: StateBackend, ttl: float) -> None:
        problem = resume_ttl_problem(ttl)
        if problem is not None:
            raise ConfigurationError(f"resume_ttl {problem}")
        self.handles = handles
        self.state = state
        self.ttl = ttl
        self.writer = ConversationWriter(state, ttl)

    async def begin(
        self, headers: Mapping[str, str], query_string: bytes, subject: str
    ) -> Resumption:
        """The handle for a connection by ``subject``: the one it asks to resume, checked and
        with its conversation loaded, or a new one. Raises :class:`ResumeRefused` (with a
        ``code`` saying why) or :class:`~voicewire.server.state.StateUnavailableError`."""
        asked = requested_handle(headers, query_string)
        announce = handle_event_wanted(query_string)
        if asked is None:
            handle, handle_id = self.handles.mint(subject)
            return Resumption(handle, handle_id, None, announce)
        handle_id = self.handles.check(asked, subject)
        stored = await self.state.load_session(handle_id)
        if stored is None:
            raise ResumeRefused(
                "the conversation of this resume handle expired or ended; connect without it "
                "to start a new one",
                code="resume_handle_expired",
            )
        return Resumption(asked, handle_id, stored, announce)

    def attach(
        self, resumption: Resumption, session: RealtimeSession, relay: Relay
    ) -> ConversationStore:
        """Restore the stored conversation into ``session`` (not yet connected) and ``relay``,
        and start writing the conversation through; the relay finishes the writes as it
        closes. A client that asked for it is told its handle right after ``session.created``
        (the relay puts ``session.created`` ahead of what its outbox holds when it starts, and
        the handle does not change while the connection lasts)."""
        if resumption.announce:
            relay._enqueue([{"type": HANDLE_EVENT_TYPE, "handle": resumption.handle}])
        if resumption.stored is not None:
            relay.restored_config = restore(resumption.stored, session)
            relay.restored_ids = frozenset(i.id for i in session.history.items if i.id)
        store = ConversationStore(self.writer, resumption.handle_id, session, relay.client_config)
        store.start()
        relay.before_close = store.aclose
        return store


STATUS_OF: Mapping[str, int] = {
    "resume_handle_invalid": 400,
    "resume_subject_mismatch": 403,
    "resume_handle_expired": 404,
}
"""The HTTP status a refused handle is answered with, by code."""
