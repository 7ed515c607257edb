"""What was sent on the current link and not yet acknowledged by the model, to send again after a
reconnect.

A link can die without a word (see :mod:`voicewire.providers.openai_protocol.keepalive`): what the
session sent in the seconds before the drop was noticed went into a socket buffer and nowhere
else. :class:`Unacknowledged` keeps each client event from when it is sent until the model's
answer shows it arrived, and hands back, after the reconnect, those that never were — once each,
and none that the history replay already carries.

What acknowledges what:

* ``item.create`` — ``item.created`` with the same item id (the session names every item it sends,
  see :func:`with_item_id`, so the answer can be matched);
* ``tool.result`` — ``item.created`` of the result item with the same ``call_id``;
* ``item.delete`` — ``item.deleted`` with the same id;
* ``response.create`` — ``response.created`` (in order);
* ``session.update`` — ``session.updated`` (in order);
* ``audio.input.append`` — ``audio.input.committed`` or ``audio.input.cleared`` (the buffer it went
  into was used or emptied); ``audio.input.commit`` and ``audio.input.clear`` likewise. Audio is
  kept up to a byte bound (the latest seconds of it): what the user was saying when the link died.

Not kept: ``response.cancel`` (the response died with the link), ``item.truncate`` (the history
replay carries what was heard), ``activity.start`` / ``activity.end`` (a turn the new link did not
see begin cannot end there).

A response the model starts by itself (server voice detection) also answers ``response.created``,
so it can acknowledge a ``response.create`` sent at the same moment; that one is then not sent
again, which is what the provider would have done with it anyway (it refuses a second active
response).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from itertools import count

from ..protocol import (
    AudioInputAppend,
    AudioInputClear,
    AudioInputCleared,
    AudioInputCommit,
    AudioInputCommitted,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ResponseCreate,
    ResponseCreated,
    ServerEvent,
    SessionConfig,
    SessionUpdate,
    SessionUpdated,
    ToolResult,
    ToolResultItem,
)

__all__ = ["UNACKED_AUDIO_S", "Unacknowledged", "with_item_id"]

UNACKED_AUDIO_S = 15.0
"""Seconds of input audio kept until the model acknowledges it."""


def with_item_id(event: ClientEvent) -> ClientEvent:
    """``event`` with a client-chosen id on the item it creates, if it had none.

    OpenAI-protocol providers (and the local and scripted models) keep a client's item id, so the
    model's ``item.created`` names the item the session sent and can acknowledge it.
    """
    if isinstance(event, ItemCreate) and event.item.id is None:
        return replace(event, item=replace(event.item, id=f"item_vw{secrets.token_hex(8)}"))
    return event


class Unacknowledged:
    """Client events sent on the current link that the model has not acknowledged, in the order
    they were sent; at most ``max_audio_bytes`` of input audio among them."""

    def __init__(self, max_audio_bytes: int) -> None:
        self.max_audio_bytes = max_audio_bytes
        self._seq = count()
        self._reset()

    def _reset(self) -> None:
        self._events: dict[int, ClientEvent] = {}
        self._items: dict[str, int] = {}
        self._results: dict[str, int] = {}
        self._deletes: dict[str, int] = {}
        self._responses: deque[int] = deque()
        self._updates: deque[int] = deque()
        self._audio: deque[int] = deque()
        self._audio_bytes = 0
        self._commits: deque[int] = deque()
        self._clears: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._events)

    @property
    def audio_bytes(self) -> int:
        return self._audio_bytes

    def sent(self, event: ClientEvent) -> None:
        """``event`` went out on the current link."""
        if isinstance(event, AudioInputAppend):  # first: one per audio frame
            seq = self._keep(event)
            self._audio.append(seq)
            self._audio_bytes += len(event.audio)
            self._trim_audio()
        elif isinstance(event, ItemCreate):
            if event.item.id is not None:
                self._items[event.item.id] = self._keep(event)
        elif isinstance(event, ToolResult):
            self._results[event.call_id] = self._keep(event)
        elif isinstance(event, ResponseCreate):
            self._responses.append(self._keep(event))
        elif isinstance(event, SessionUpdate):
            self._updates.append(self._keep(event))
        elif isinstance(event, ItemDelete):
            self._deletes[event.item_id] = self._keep(event)
        elif isinstance(event, AudioInputCommit):
            self._commits.append(self._keep(event))
        elif isinstance(event, AudioInputClear):
            self._clears.append(self._keep(event))

    def acknowledge(self, event: ServerEvent) -> None:
        """The model said ``event``: forget what it shows has arrived."""
        if not self._events:
            return
        if isinstance(event, ItemCreated):
            item = event.item
            if item.id is not None:
                self._forget(self._items.pop(item.id, None))
            if isinstance(item, ToolResultItem):
                self._forget(self._results.pop(item.call_id, None))
        elif isinstance(event, ResponseCreated):
            self._forget(self._responses.popleft() if self._responses else None)
        elif isinstance(event, SessionUpdated):
            self._forget(self._updates.popleft() if self._updates else None)
        elif isinstance(event, ItemDeleted):
            self._forget(self._deletes.pop(event.item_id, None))
        elif isinstance(event, AudioInputCommitted):
            self._audio_used(self._commits)
        elif isinstance(event, AudioInputCleared):
            self._audio_used(self._clears)

    def take(self, replayed: Sequence[ClientEvent], config: SessionConfig) -> list[ClientEvent]:
        """Everything still unacknowledged, in the order it was sent, minus what ``replayed``
        (the history the new link hears first) already carries and session updates the new
        link opened with (``config``); the ledger starts empty for the new link."""
        ids = {e.item.id for e in replayed if isinstance(e, ItemCreate) and e.item.id}
        calls = {
            e.item.call_id
            for e in replayed
            if isinstance(e, ItemCreate) and isinstance(e.item, ToolResultItem)
        }
        owed = [
            event
            for event in self._events.values()
            if not (
                (isinstance(event, ItemCreate) and event.item.id in ids)
                or (isinstance(event, ToolResult) and event.call_id in calls)
                or (isinstance(event, SessionUpdate) and event.config == config)
            )
        ]
        self._reset()
        return owed

    # -- internals -------------------------------------------------------------------------------

    def _keep(self, event: ClientEvent) -> int:
        seq = next(self._seq)
        self._events[seq] = event
        return seq

    def _forget(self, seq: int | None) -> None:
        if seq is not None:
            self._events.pop(seq, None)

    def _audio_used(self, requests: deque[int]) -> None:
        """The input buffer was committed or cleared: the audio appended before the client's
        own request (or all of it, when the model did it by itself) has arrived."""
        until = requests.popleft() if requests else None
        self._forget(until)
        while self._audio and (until is None or self._audio[0] < until):
            seq = self._audio.popleft()
            event = self._events.pop(seq, None)
            if isinstance(event, AudioInputAppend):
                self._audio_bytes -= len(event.audio)

    def _trim_audio(self) -> None:
        while self._audio_bytes > self.max_audio_bytes and self._audio:
            event = self._events.pop(self._audio.popleft(), None)
            if isinstance(event, AudioInputAppend):
                self._audio_bytes -= len(event.audio)
