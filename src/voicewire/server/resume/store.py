"""Writing a session's conversation through to the state backend, and reading it back.

:class:`ConversationStore` watches a session's events: an item added, changed (its transcript or
text arrived), truncated, completed (the response ended) or deleted, and a confirmed
``session.update``, mark the session pending with the process's
:class:`~voicewire.server.resume.writer.ConversationWriter`, which writes the conversation
whole as it stands then (see there: batched, coalescing, retried). Items are stored in OpenAI's
item JSON, audio bytes left out (the transcript says what they held), each encoded once per
change. Audio frames mark nothing, so the backend is never on the audio path. A backend that
cannot be reached costs no live session anything: the writer retries until it answers.

What is stored is what the caller heard: an assistant reply cut off (``history.truncated_at``)
keeps the share of its words that was played (:func:`voicewire.session.heard.as_heard`, the
estimate the session's reconnect replay makes too, over the audio that had arrived when it was
cut, ``history.received_at_cut``: the playback tracker forgets all but its last few answers, and
the reply may be stored again long after) and is stored ``incomplete``; a reply whose
response ended is stored ``completed`` even when the model never re-announced it (the echo
model does not).

:func:`restore` puts stored items into a new session's history before it connects, so the fresh
model link hears them (the session's reconnect replay) and echoes each one to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import get_args

from pydantic_core import from_json, to_json

from voicewire.openai_wire.dialect import OPENAI
from voicewire.openai_wire.items import encode_item_for_server
from voicewire.openai_wire.server_decoder import decode_client
from voicewire.openai_wire.session_encode import encode_session
from voicewire.protocol import (
    AudioPart,
    Item,
    ItemCreate,
    ItemCreated,
    ItemDeleted,
    ItemStatus,
    ItemTruncated,
    MessageItem,
    ResponseDone,
    ResponseInterrupted,
    SessionConfig,
    SessionUpdate,
    SessionUpdated,
    TextOutput,
    ToolCallItem,
    TranscriptInput,
    TranscriptOutput,
)
from voicewire.session import RealtimeSession, SessionEvent
from voicewire.session.heard import as_heard

from ..state import StoredSession
from .writer import ConversationWriter

__all__ = ["ConversationStore", "restore"]

log = logging.getLogger("voicewire.server")

_ITEM_EVENTS = (ItemCreated, TranscriptInput, TranscriptOutput, TextOutput)
_WATCHED = (*_ITEM_EVENTS, ItemDeleted, ItemTruncated, ResponseInterrupted, ResponseDone)
FLUSH_TIMEOUT = 5.0
"""Seconds a closing connection waits for its last writes."""
_Cut = tuple[int, int]
"""An answer's cut: the milliseconds heard and the milliseconds of its audio that had arrived."""


def encode_item(item: Item) -> bytes:
    """``item`` as stored: OpenAI item JSON without audio bytes, with its ``status``."""
    if isinstance(item, MessageItem):
        silent = (replace(p, audio=None) if isinstance(p, AudioPart) else p for p in item.content)
        item = replace(item, content=tuple(silent))
    encoded = encode_item_for_server(item)
    if isinstance(item, MessageItem | ToolCallItem) and item.status is not None:
        encoded["status"] = item.status
    return to_json(encoded)


def decode_item(data: bytes) -> Item:
    """A stored item (raises ``ClientEventError`` for one that is not an item)."""
    raw = from_json(data)
    event = decode_client({"type": "conversation.item.create", "item": raw})[0]
    assert isinstance(event, ItemCreate)
    item = event.item
    status = raw.get("status") if isinstance(raw, dict) else None
    if isinstance(item, MessageItem | ToolCallItem) and status in get_args(ItemStatus):
        item = replace(item, status=status)
    return item


def encode_config(config: SessionConfig) -> bytes:
    """The client's view of the session config, as a ``session.update``'s ``session``."""
    return to_json(encode_session(config, OPENAI))


def restore(stored: StoredSession, session: RealtimeSession) -> SessionConfig | None:
    """Put ``stored``'s items into ``session``'s history (before it connects); returns the
    stored config to apply as the client's ``session.update`` (``None`` if unreadable)."""
    previous: str | None = None
    for data in stored.items:
        try:
            item = decode_item(data)
        except Exception:
            log.warning("a stored conversation item could not be read; left out")
            continue
        session.history.upsert(item, previous)
        previous = item.id
    try:
        event = decode_client({"type": "session.update", "session": from_json(stored.config)})[0]
    except Exception:
        log.warning("a stored session config could not be read; the defaults apply")
        return None
    return event.config if isinstance(event, SessionUpdate) else None


class ConversationStore:
    """Writes one session's conversation under ``handle_id`` (see the module docstring).

    Args:
        writer: the process's writer.
        handle_id: the id the session's resume handle names.
        session: the session to watch.
        view: the session config as the client sees it (what a resume restores).
    """

    def __init__(
        self,
        writer: ConversationWriter,
        handle_id: str,
        session: RealtimeSession,
        view: Callable[[], SessionConfig],
    ) -> None:
        self.writer = writer
        self.handle_id = handle_id
        self.session = session
        self._view = view
        self._completed: set[str] = set()  # items whose response ended
        # item id -> (the item, its cut, completed, its stored bytes): encoded once a change
        self._encoded: dict[str, tuple[Item, _Cut | None, bool, bytes]] = {}
        # The kinds it reads only: an audio delta (50 a second) does not call it.
        self._offs = [session.on(kind.kind, self._on_event) for kind in (*_WATCHED, SessionUpdated)]

    def __repr__(self) -> str:  # never the handle
        return f"ConversationStore(items={len(self.session.history)})"

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, ResponseDone):
            self._completed.update(
                i.id
                for i in self.session.history.items
                if i.id and isinstance(i, MessageItem | ToolCallItem) and i.status == "in_progress"
            )
        self.start()

    def start(self) -> None:
        """Have the conversation written as it stands (soon, by the writer)."""
        self.writer.mark(self.handle_id, self.snapshot)

    def snapshot(self) -> StoredSession:
        """The conversation as stored: the client's config and the items as heard."""
        history = self.session.history
        encoded: dict[str, tuple[Item, _Cut | None, bool, bytes]] = {}
        for item in history.items:
            item_id = item.id or ""
            heard = history.truncated_at.get(item_id)
            cut = None if heard is None else (heard, history.received_at_cut.get(item_id, 0))
            done = item_id in self._completed
            held = self._encoded.get(item_id)
            if held is None or held[0] is not item or held[1] != cut or held[2] != done:
                held = (item, cut, done, encode_item(_as_heard(item, cut, done)))
            encoded[item_id] = held
        self._encoded = encoded
        self._completed.intersection_update(encoded)
        config = encode_config(self._view())
        return StoredSession(config, tuple(e[3] for e in encoded.values()))

    async def aclose(self) -> None:
        """Stop watching and write the conversation (waiting at most :data:`FLUSH_TIMEOUT`): a
        client resuming elsewhere right after the close finds everything said."""
        for off in self._offs:
            off()
        self.start()  # settings changed without the model confirming them
        if not await self.writer.flush(self.handle_id, FLUSH_TIMEOUT):
            log.warning(
                "a closing session's conversation was not saved within %.0f s; still trying",
                FLUSH_TIMEOUT,
            )


def _as_heard(item: Item, cut: _Cut | None, done: bool) -> Item:
    """``item`` as the caller heard it: cut where ``cut`` says, completed if ``done``."""
    if isinstance(item, MessageItem) and cut is not None and item.role == "assistant":
        return as_heard(item, *cut)
    if done and isinstance(item, MessageItem | ToolCallItem) and item.status == "in_progress":
        return replace(item, status="completed")
    return item
