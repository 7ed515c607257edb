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
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

__all__ = ["TurnState"]


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
    call_names: dict[str, str] = field(default_factory=dict)
    """Tool names by call id (Gemini's function responses name the function)."""
    withdrawn: set[str] = field(default_factory=set)
    """Calls Gemini cancelled (``toolCallCancellation``) whose results have not come: a result
    for one is not sent, since the model no longer waits for it."""

    def new_id(self, kind: str) -> str:
        """A fresh id such as ``item_a1b2c3_7``."""
        self.counter += 1
        return f"{kind}_{self.tag}_{self.counter}"
