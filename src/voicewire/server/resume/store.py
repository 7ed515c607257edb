"""Writing a session's conversation through to the state backend, and reading it back.

:class:`ConversationStore` watches a session's events: an item added, changed (its transcript or
text arrived) or deleted marks that item, and a confirmed ``session.update`` marks the config.
One writer task writes what is marked, each item as it stands in the session's history, in
OpenAI's item JSON (audio bytes left out: the transcript says what they held). Audio frames mark
nothing, so the backend is never on the audio path. A backend that cannot be reached costs the
conversation its resumability, never the live session: the failure is logged and serving goes on.

:func:`restore` puts stored items into a new session's history before it connects, so the fresh
model link hears them (the session's reconnect replay) and echoes each one to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

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
    MessageItem,
    SessionConfig,
    SessionUpdate,
    SessionUpdated,
    TextOutput,
    TranscriptInput,
    TranscriptOutput,
)
from voicewire.session import RealtimeSession, SessionEvent

from ..state import StateBackend, StateUnavailableError, StoredSession

__all__ = ["ConversationStore", "restore"]

log = logging.getLogger("voicewire.server")

_ITEM_EVENTS = (ItemCreated, TranscriptInput, TranscriptOutput, TextOutput)
_CONFIG = ""  # the mark for the config (no item id is empty)
FLUSH_TIMEOUT = 5.0
"""Seconds a closing connection waits for its last writes."""


def encode_item(item: Item) -> bytes:
    """``item`` as stored: OpenAI item JSON without audio bytes."""
    if isinstance(item, MessageItem):
        silent = (replace(p, audio=None) if isinstance(p, AudioPart) else p for p in item.content)
        item = replace(item, content=tuple(silent))
    return to_json(encode_item_for_server(item))


def decode_item(data: bytes) -> Item:
    """A stored item (raises ``ClientEventError`` for one that is not an item)."""
    event = decode_client({"type": "conversation.item.create", "item": from_json(data)})[0]
    assert isinstance(event, ItemCreate)
    return event.item


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
        state: the backend.
        handle_id: the id the session's resume handle names.
        ttl: seconds the conversation is kept after its last change.
        session: the session to watch.
        view: the session config as the client sees it (what a resume restores).
    """

    def __init__(
        self,
        state: StateBackend,
        handle_id: str,
        ttl: float,
        session: RealtimeSession,
        view: Callable[[], SessionConfig],
    ) -> None:
        self.state = state
        self.handle_id = handle_id
        self.ttl = ttl
        self.session = session
        self._view = view
        self._marked: dict[str, None] = {_CONFIG: None}  # ordered set; the config goes first
        self._writer: asyncio.Task[None] | None = None
        self._saved_config: bytes | None = None
        self.writes = 0  # backend writes made (items and configs)
        # The kinds it reads only: an audio delta (50 a second) does not call it.
        self._offs = [
            session.on(kind.kind, self._on_event)
            for kind in (*_ITEM_EVENTS, ItemDeleted, SessionUpdated)
        ]

    def __repr__(self) -> str:  # never the handle
        return f"ConversationStore(items={len(self.session.history)}, writes={self.writes})"

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, _ITEM_EVENTS):
            item_id = event.item.id if isinstance(event, ItemCreated) else event.item_id
            if item_id:
                self._mark(item_id)
        elif isinstance(event, ItemDeleted):
            self._mark(event.item_id)
        elif isinstance(event, SessionUpdated):
            self._mark(_CONFIG)

    def _mark(self, key: str) -> None:
        self._marked[key] = None
        self.start()

    def start(self) -> None:
        """Write what is marked (the writer task, if not running)."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._marked:
            key = next(iter(self._marked))
            del self._marked[key]
            try:
                if key == _CONFIG:
                    await self._write_config()
                else:
                    await self._write_item(key)
            except StateUnavailableError as exc:
                log.warning("the conversation could not be saved for resuming: %s", exc.message)
            except Exception:
                log.exception("saving the conversation for resuming failed")

    async def _write_config(self) -> None:
        config = encode_config(self._view())
        if config != self._saved_config:
            await self.state.save_session(self.handle_id, config, self.ttl)
            self._saved_config = config
            self.writes += 1

    async def _write_item(self, item_id: str) -> None:
        history = self.session.history
        item = history.get(item_id)
        if item is None:
            await self.state.delete_item(self.handle_id, item_id, self.ttl)
        else:
            ids = [held.id for held in history.items]
            at = ids.index(item_id) if item_id in ids else 0
            previous = ids[at - 1] if at > 0 else None
            encoded = encode_item(item)
            await self.state.put_item(self.handle_id, item_id, encoded, previous, self.ttl)
        self.writes += 1

    async def aclose(self) -> None:
        """Stop watching and finish the writes under way (at most :data:`FLUSH_TIMEOUT`): a
        client resuming elsewhere right after the close finds everything said."""
        for off in self._offs:
            off()
        self._marked[_CONFIG] = None  # settings changed without the model confirming them
        self.start()
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), FLUSH_TIMEOUT)
