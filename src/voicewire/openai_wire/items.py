"""Conversation items on the OpenAI Realtime wire, both directions.

Each side writes items for the other and reads the other's:

* :func:`encode_item_for_server` — the client codec's ``conversation.item.create`` item.
* :func:`encode_item_for_client` — the server's item in ``conversation.item.added`` /
  ``.retrieved``: a message in the full GA shape (``object``, ``status``), without audio bytes.
* :func:`decode_item_from_server` — the client codec reading a server's item: **lenient**. A
  provider's item kinds and content parts with no neutral form (MCP calls, approvals, images)
  are skipped, since a newer provider must not break a running session; the item's ``status`` is
  kept.
* :func:`decode_item_from_client` — the server reading a client's item: **strict**. An item kind
  or content part it cannot serve is refused with an error that names it, since silently dropping
  what a client asked to add would leave its conversation different from what it believes; a
  client's ``status`` is not read (the server's history owns it).

Both readers share one field reader (:class:`~.fields.FieldReader`), so a field checked on one
side is checked the same way on the other; only the error class differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from voicewire.protocol import (
    AudioPart,
    ContentPart,
    Item,
    ItemStatus,
    MessageItem,
    ProtocolError,
    Role,
    TextPart,
    ToolCallItem,
    ToolResultItem,
)
from voicewire.protocol.base64_audio import encode_base64

from .fields import MISSING, FieldReader, shown

__all__ = [
    "decode_item_from_client",
    "decode_item_from_server",
    "encode_item_for_client",
    "encode_item_for_server",
]

ROLES: Final = ("user", "assistant", "system")
ITEM_TYPES: Final = ("message", "function_call", "function_call_output")
"""The GA item kinds with a neutral form."""
_ITEM_STATUSES: Final = frozenset({"completed", "incomplete", "in_progress"})
_TEXT_PARTS: Final = frozenset({"input_text", "output_text", "text"})
_AUDIO_PARTS: Final = frozenset({"input_audio", "output_audio", "audio"})

# --- writing ----------------------------------------------------------------------------------


def encode_item_for_server(item: Item) -> dict[str, Any]:
    """A neutral conversation item as a GA ``conversation.item.create`` item."""
    encoded: dict[str, Any]
    if isinstance(item, MessageItem):
        encoded = {"type": "message", "role": item.role, "content": _content_for_server(item)}
    elif isinstance(item, ToolCallItem):
        encoded = {
            "type": "function_call",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments,
        }
    elif isinstance(item, ToolResultItem):
        # GA function_call_output items have no name; the call id identifies the call.
        encoded = {"type": "function_call_output", "call_id": item.call_id, "output": item.output}
    else:
        raise TypeError(f"not a voicewire conversation item: {item!r}")
    if item.id is not None:
        encoded["id"] = item.id
    return encoded


def _content_for_server(item: MessageItem) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    role = item.role
    for part in item.content:
        if isinstance(part, TextPart):
            kind = "output_text" if role == "assistant" else "input_text"
            content.append({"type": kind, "text": part.text})
        elif role == "user":
            encoded: dict[str, Any] = {"type": "input_audio"}
            if part.audio is not None:
                encoded["audio"] = encode_base64(part.audio)
            if part.transcript is not None:
                encoded["transcript"] = part.transcript
            content.append(encoded)
        elif role == "assistant":
            # Assistant audio is replayed by its transcript; the API takes no assistant audio.
            encoded = {"type": "output_audio"}
            if part.transcript is not None:
                encoded["transcript"] = part.transcript
            content.append(encoded)
        elif part.transcript is not None:
            # System messages hold text only: what was said is what counts.
            content.append({"type": "input_text", "text": part.transcript})
    return content


def encode_item_for_client(item: MessageItem, item_id: str) -> dict[str, Any]:
    """A message as the server shows it to a client (held under ``item_id``). Audio bytes are not
    sent back: the client has them, and its transcript says what they held."""
    content: list[dict[str, Any]] = []
    for part in item.content:
        if item.role == "assistant":
            if isinstance(part, TextPart):
                content.append({"type": "output_text", "text": part.text})
            else:
                content.append({"type": "output_audio", "transcript": part.transcript})
        elif item.role == "system":
            text = part.text if isinstance(part, TextPart) else (part.transcript or "")
            content.append({"type": "input_text", "text": text})
        elif isinstance(part, AudioPart):
            content.append({"type": "input_audio", "transcript": part.transcript})
        else:
            content.append({"type": "input_text", "text": part.text})
    return {
        "id": item_id,
        "type": "message",
        "object": "realtime.item",
        "status": item.status or "completed",
        "role": item.role,
        "content": content,
    }


# --- reading ----------------------------------------------------------------------------------


def decode_item_from_server(
    item: Mapping[str, Any], fields: FieldReader[ProtocolError]
) -> Item | None:
    """A server's GA item (``event["item"]``) as a neutral item; ``None`` for kinds with no
    neutral form (MCP calls and approvals)."""
    kind = fields.text(item, "type", "item.type")
    if kind not in ITEM_TYPES:
        return None
    raw_status = item.get("status")
    status = (
        cast(ItemStatus, raw_status)
        if isinstance(raw_status, str) and raw_status in _ITEM_STATUSES
        else None
    )
    return _decode(item, kind, fields, status=status, strict=False)


def decode_item_from_client(item: Mapping[str, Any], fields: FieldReader[Any]) -> Item:
    """A client's GA item (``conversation.item.create``'s ``item``) as a neutral item."""
    kind = fields.choice(item.get("type", MISSING), "item.type", ITEM_TYPES)
    return _decode(item, kind, fields, status=None, strict=True)


def _decode(
    item: Mapping[str, Any],
    kind: str,
    fields: FieldReader[Any],
    *,
    status: ItemStatus | None,
    strict: bool,
) -> Item:
    item_id = fields.opt_text(item, "id", "item.id")
    if kind == "message":
        role = fields.choice(item.get("role", MISSING), "item.role", ROLES)
        content = _decode_parts(fields.array(item, "content", "item.content"), fields, strict)
        return MessageItem(item_id, cast(Role, role), content, status)
    if kind == "function_call":
        return ToolCallItem(
            item_id,
            fields.opt_text(item, "call_id", "item.call_id") or "",
            fields.text(item, "name", "item.name"),
            fields.opt_text(item, "arguments", "item.arguments") or "",
            status,
        )
    return ToolResultItem(
        item_id,
        fields.text(item, "call_id", "item.call_id"),
        fields.text(item, "output", "item.output"),
    )


def _decode_parts(
    raw: Sequence[Any], fields: FieldReader[Any], strict: bool
) -> tuple[ContentPart, ...]:
    parts: list[ContentPart] = []
    for index, part in enumerate(raw):
        path = f"item.content[{index}]"
        if not isinstance(part, Mapping):
            raise fields.wrong(path, "an object", part)
        kind = fields.text(part, "type", f"{path}.type")
        if kind in _TEXT_PARTS:
            parts.append(TextPart(fields.opt_text(part, "text", f"{path}.text") or ""))
        elif kind in _AUDIO_PARTS:
            audio_b64 = fields.opt_text(part, "audio", f"{path}.audio")
            audio = fields.base64(audio_b64, f"{path}.audio") if audio_b64 else None
            transcript = fields.opt_text(part, "transcript", f"{path}.transcript")
            parts.append(AudioPart(transcript, audio))
        elif strict:
            raise fields.invalid(
                f"{path}.type", f"content type {shown(kind)} is not supported (text and audio are)"
            )
        # Lenient: other parts (input_image, ...) have no neutral form and are skipped.
    return tuple(parts)
