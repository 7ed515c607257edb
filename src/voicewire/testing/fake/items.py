"""The fake server's conversation items: create, delete, retrieve and truncate."""

from __future__ import annotations

import copy

from .base import Event, FakeBase, FakeConnection

__all__ = ["ItemHandlers"]


class ItemHandlers(FakeBase):
    """``conversation.item.create`` / ``delete`` / ``retrieve`` / ``truncate``."""

    async def _on_item_create(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in (
            "message",
            "function_call",
            "function_call_output",
        ):
            await self._error(
                conn,
                "The fake server accepts items of type message, function_call and "
                "function_call_output.",
                code="invalid_value",
                param="item.type",
                event_id=event_id,
            )
            return
        item = copy.deepcopy(item)
        item_id = item.get("id") or self._new_id("item")
        if not isinstance(item_id, str):
            await self._error(
                conn,
                f"Invalid 'item.id': {item_id!r} is not a string.",
                code="invalid_value",
                param="item.id",
                event_id=event_id,
            )
            return
        if item_id in conn.items:
            await self._error(
                conn,
                f"Item with id '{item_id}' already exists.",
                code="item_already_exists",
                param="item.id",
                event_id=event_id,
            )
            return
        previous = event.get("previous_item_id")
        if previous is None:
            index = len(conn.items)
        elif previous == "root":
            index = 0
        else:
            found = conn.items.index_of(previous) if isinstance(previous, str) else None
            if found is None:
                await self._error(
                    conn,
                    f"Previous item with id '{previous}' not found.",
                    code="item_not_found",
                    param="previous_item_id",
                    event_id=event_id,
                )
                return
            index = found + 1
        item["id"] = item_id
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        previous_id = conn.items.insert(item_id, item, index)
        if item.get("type") == "message" and item.get("role") == "user":
            transcripts = [
                part.get("transcript")
                for part in item.get("content") or []
                if isinstance(part, dict) and part.get("type") == "input_audio"
            ]
            heard = " ".join(t for t in transcripts if isinstance(t, str))
            if heard:
                conn.heard[item_id] = heard
        await self._item_added(conn, item, previous_id)
        await self._item_done(conn, item, previous_id)

    async def _on_item_delete(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or conn.items.delete(item_id) is None:
            await self._error(
                conn,
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                code="item_not_found",
                param="item_id",
                event_id=event_id,
            )
            return
        await self._send(conn, {"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_item_retrieve(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        item_id = event.get("item_id")
        item = conn.items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            await self._error(
                conn,
                f"Item with id '{item_id}' not found.",
                code="item_not_found",
                param="item_id",
                event_id=event_id,
            )
            return
        await self._send(conn, {"type": "conversation.item.retrieved", "item": copy.deepcopy(item)})

    async def _on_item_truncate(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        item_id = event.get("item_id")
        content_index = event.get("content_index")
        audio_end_ms = event.get("audio_end_ms")
        item = conn.items.get(item_id) if isinstance(item_id, str) else None
        if item is None or item.get("role") != "assistant":
            await self._error(
                conn,
                f"Only assistant message items can be truncated; '{item_id}' is not one.",
                code="invalid_value",
                param="item_id",
                event_id=event_id,
            )
            return
        content = item.get("content") or []
        if (
            not isinstance(content_index, int)
            or not 0 <= content_index < len(content)
            or content[content_index].get("type") != "output_audio"
        ):
            await self._error(
                conn,
                f"Invalid 'content_index': {content_index!r} is not an audio content part.",
                code="invalid_value",
                param="content_index",
                event_id=event_id,
            )
            return
        sent_ms = round(conn.audio_sent_ms.get(str(item_id), 0.0))
        if not isinstance(audio_end_ms, int) or audio_end_ms < 0 or audio_end_ms > sent_ms:
            self.violations.append(
                f"conversation.item.truncate: audio_end_ms {audio_end_ms!r} is past the "
                f"{sent_ms} ms of audio sent for item {item_id}"
            )
            await self._error(
                conn,
                f"Audio content of {sent_ms}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
                event_id=event_id,
            )
            return
        await self._send(
            conn,
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            },
        )
