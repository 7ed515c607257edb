"""The conversation the session has seen, in order, for replay after a reconnect."""

from __future__ import annotations

from dataclasses import replace

from ..protocol import AudioPart, Item, MessageItem, TextPart
from ..protocol.conversation import OrderedItems


class ConversationHistory:
    """Items by id in conversation order; transcripts fill in spoken items as they arrive.

    An id is held once: a later announcement of an id already held updates that item where it
    is (a provider's ``added`` then ``done``, and its echo of an item replayed after a reconnect,
    which goes out under the id it has here). An item announced without an id is held under a
    placeholder ``local_N``, unique in this history, and replayed under it; a provider that takes
    client ids (OpenAI, xAI, the local and scripted models) echoes it back under that name, so
    the placeholder dedupes as well as a provider's id.
    """

    def __init__(self) -> None:
        self._items: OrderedItems[Item] = OrderedItems()
        self._anonymous = 0
        self.truncated_at: dict[str, int] = {}
        """Item id -> the milliseconds of its audio the listener heard (it was cut there)."""
        self.received_at_cut: dict[str, int] = {}
        """Item id -> the milliseconds of its audio that had arrived when it was cut."""

    @property
    def items(self) -> list[Item]:
        return self._items.values()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def upsert(self, item: Item, previous_item_id: str | None = None) -> None:
        item_id = item.id
        if item_id is None:
            self._anonymous += 1
            item_id = f"local_{self._anonymous}"
            item = replace(item, id=item_id)
        held = self._items.get(item_id)
        if held is not None:
            self._items.replace(item_id, _merge(held, item, item_id in self.truncated_at))
            return
        self._items.insert_after(item_id, item, previous_item_id)

    def delete(self, item_id: str) -> None:
        """Forget ``item_id``, and where it was cut: a long session that deletes keeps no
        record of what it no longer holds, and an item added again under the id is whole."""
        self._items.delete(item_id)
        self.truncated_at.pop(item_id, None)
        self.received_at_cut.pop(item_id, None)

    def set_transcript(self, item_id: str | None, role: str, text: str) -> None:
        """Record the words of a spoken item, creating the item if it was not announced."""
        if item_id is None:
            return
        existing = self._items.get(item_id)
        if isinstance(existing, MessageItem):
            parts = [p for p in existing.content if not isinstance(p, AudioPart)]
            audio = [p for p in existing.content if isinstance(p, AudioPart)]
            spoken = replace(audio[0], transcript=text) if audio else AudioPart(transcript=text)
            self._items.replace(item_id, replace(existing, content=(*parts, spoken)))
        elif existing is None:
            self.upsert(
                MessageItem(
                    item_id,
                    "assistant" if role == "assistant" else "user",
                    (AudioPart(transcript=text),),
                )
            )

    def set_text(self, item_id: str | None, text: str) -> None:
        if item_id is None:
            return
        existing = self._items.get(item_id)
        if isinstance(existing, MessageItem):
            parts = [p for p in existing.content if not isinstance(p, TextPart)]
            self._items.replace(item_id, replace(existing, content=(*parts, TextPart(text))))
        elif existing is None:
            self.upsert(MessageItem(item_id, "assistant", (TextPart(text),)))

    def truncate(self, item_id: str, audio_end_ms: int, received_ms: int = 0) -> None:
        """The listener heard ``audio_end_ms`` of ``item_id``, of which ``received_ms`` had
        arrived then (the most that ever arrived is kept: the share of its words heard, see
        :mod:`voicewire.session.heard`). Its words stay whole here; a replay or a store cuts
        them."""
        self.truncated_at[item_id] = audio_end_ms
        self.received_at_cut[item_id] = max(received_ms, self.received_at_cut.get(item_id, 0))


def _merge(old: Item, new: Item, cut: bool) -> Item:
    """Keep words already known when a later announcement of the item carries none, or when
    the item was cut (``cut``): the answer's words are whole here and the truncation says how
    many were heard, so a re-announcement (the echo of the heard part replayed after a
    reconnect) must not put its fewer words in their place, to be cut again."""
    if (
        isinstance(old, MessageItem)
        and isinstance(new, MessageItem)
        and old.text
        and (cut or not new.text)
    ):
        return replace(new, content=old.content)
    return new
