"""What the client codec and the server decoder of one Gemini connection share about its turns.

Gemini's wire has no item ids and no response ids, and its client messages have no echoes. The
neutral layer needs both: the session's history places items by id, and its ledger of
unacknowledged events waits for ``item.created`` / ``response.created`` answers. So the provider
names everything itself, and the two halves of the codec meet here: the encoder marks that a
user turn was ended by hand or that an answer is already on its way (so a following
``response.create`` must not ask for a second one); the decoder clears that when the answer
starts, and remembers tool names for the results.

Ids are ``<kind>_<tag><n>``: the tag is random per connection (a session that reconnects gets a
new connection, and its history must not see an old id again) and the counter runs on across the
connection's own resumptions, so one Gemini session never repeats an id.

What is kept per tool call (its name, its withdrawal) is kept for the latest
:data:`RECENT_CALLS` calls only: a connection lives for hours and may see thousands of calls,
while what needs it (the call's result) comes soon after the call.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterator, MutableSet
from dataclasses import dataclass, field
from typing import Final, TypeVar

__all__ = ["RECENT_CALLS", "RecentCalls", "RecentIds", "TurnState"]

RECENT_CALLS: Final = 128
"""How many tool calls :class:`TurnState` remembers (names, withdrawals), the latest first kept.
Far more than one turn makes: a result older than that is for a call the session gave up."""

V = TypeVar("V")


class RecentCalls(OrderedDict[str, V]):
    """A mapping by call id that keeps the latest :data:`RECENT_CALLS` entries (the oldest
    written goes when one more is)."""

    def __setitem__(self, key: str, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > RECENT_CALLS:
            self.popitem(last=False)


class RecentIds(MutableSet[str]):
    """A set of call ids that keeps the latest :data:`RECENT_CALLS` added."""

    def __init__(self) -> None:
        self._ids: RecentCalls[None] = RecentCalls()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, value: str) -> None:
        """Remember ``value`` (the oldest id goes when there are too many)."""
        self._ids[value] = None

    def discard(self, value: str) -> None:
        """Forget ``value`` if it is remembered."""
        self._ids.pop(value, None)


@dataclass(slots=True)
class TurnState:
    """The shared turn bookkeeping of one :class:`~.connection.GeminiConnection`."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    """Random per connection, so ids never collide with an earlier connection's."""
    counter: int = 0
    """How many ids were handed out."""
    last_item_id: str | None = None
    """The newest item of the conversation as far as the provider knows (``previous_item_id``
    of the next item)."""
    answer_pending: bool = False
    """The client sent something the model answers by itself (the end of a manual turn, a tool
    result, text on a 3.x model): a ``response.create`` until that answer starts is absorbed."""
    user_turn_ended: bool = False
    """The client ended a user turn by hand (``activityEnd``) and no user item holds it yet."""
    activity_open: bool = False
    """Manual turns: an ``activityStart`` was sent and its ``activityEnd`` not yet."""
    call_names: RecentCalls[str] = field(default_factory=RecentCalls)
    """Tool names by call id (Gemini's function responses name the function), of the latest
    :data:`RECENT_CALLS` calls."""
    withdrawn: RecentIds = field(default_factory=RecentIds)
    """Calls Gemini cancelled (``toolCallCancellation``) whose results have not come: a result
    for one is not sent, since the model no longer waits for it. The latest
    :data:`RECENT_CALLS` only: the session stops a withdrawn call, so a result for one can only
    be one that was already on its way."""

    def new_id(self, kind: str) -> str:
        """A fresh id such as ``item_a1b2c3_7``."""
        self.counter += 1
        return f"{kind}_{self.tag}_{self.counter}"
