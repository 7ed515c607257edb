"""The client writing events for the server, sans I/O: neutral client events -> GA JSON.

The other half of the client side, reading the server's events, is
:class:`~voicewire.openai_wire.client_codec.OpenAIProtocolCodec`, which dispatches to these
encoders; the server reads what they write with
:func:`~voicewire.openai_wire.server_decoder.decode_client`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicewire.protocol import (
    AudioInputAppend,
    ClientEvent,
    ItemCreate,
    ItemDelete,
    ItemTruncate,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    ToolResult,
)
from voicewire.protocol.base64_audio import encode_base64

from .dialect import Dialect
from .items import encode_item_for_server
from .session_encode import encode_response, encode_session

__all__ = ["ClientEncoder", "client_encoders"]

ClientEncoder = Callable[[Any], dict[str, Any] | None]


def client_encoders(dialect: Dialect) -> dict[str, ClientEncoder]:
    """Neutral client event kind -> its encoder; kinds the dialect cannot express encode to
    ``None`` (the connection raises :class:`~voicewire.protocol.UnsupportedEventError`)."""
    encoders: dict[str, ClientEncoder] = {
        "session.update": _session_update_encoder(dialect),
        "item.create": _enc_item_create,
        "item.delete": _enc_item_delete,
        "item.truncate": _enc_item_truncate,
        "audio.input.append": _enc_audio_append,
        "audio.input.commit": _enc_const("input_audio_buffer.commit"),
        "audio.input.clear": _enc_const("input_audio_buffer.clear"),
        "activity.start": _enc_unsupported,
        "activity.end": _enc_unsupported,
        "response.create": _enc_response_create,
        "response.cancel": _enc_response_cancel,
        "tool.result": _enc_tool_result,
    }
    for kind in dialect.unsupported_client_events:
        encoders[kind] = _enc_unsupported
    return encoders


def _enc_unsupported(event: ClientEvent) -> None:
    return None


def _enc_const(type_: str) -> ClientEncoder:
    def encode(event: ClientEvent) -> dict[str, Any]:
        return {"type": type_}

    return encode


def _session_update_encoder(dialect: Dialect) -> ClientEncoder:
    def encode(event: SessionUpdate) -> dict[str, Any]:
        return {"type": "session.update", "session": encode_session(event.config, dialect)}

    return encode


def _enc_item_create(event: ItemCreate) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "conversation.item.create",
        "item": encode_item_for_server(event.item),
    }
    if event.previous_item_id is not None:
        message["previous_item_id"] = event.previous_item_id
    return message


def _enc_item_delete(event: ItemDelete) -> dict[str, Any]:
    return {"type": "conversation.item.delete", "item_id": event.item_id}


def _enc_item_truncate(event: ItemTruncate) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": event.item_id,
        "content_index": event.content_index,
        "audio_end_ms": event.audio_end_ms,
    }


def _enc_audio_append(event: AudioInputAppend) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": encode_base64(event.audio)}


def _enc_response_create(event: ResponseCreate) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "response.create"}
    if event.config is not None:
        response = encode_response(event.config)
        if response:
            message["response"] = response
    return message


def _enc_response_cancel(event: ResponseCancel) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "response.cancel"}
    if event.response_id is not None:
        message["response_id"] = event.response_id
    return message


def _enc_tool_result(event: ToolResult) -> dict[str, Any]:
    # The protocol has no error flag: an error result is the error text the model reads.
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": event.call_id,
            "output": event.output,
        },
    }
