"""The server reading client frames of the OpenAI Realtime GA wire protocol, sans I/O.

The mirror image of :class:`~voicewire.openai_wire.client_codec.OpenAIProtocolCodec`'s
``encode_client``: :func:`decode_client` turns one parsed client message into neutral client
events, raising :class:`ClientEventError` (a :class:`~voicewire.protocol.ProtocolError`) that names
the event type and the field when the message is malformed, unknown or cannot be served. The other
direction of the server side, neutral server events to GA JSON, is
:class:`~voicewire.openai_wire.server_encoder.ServerEventEncoder`.

``conversation.item.retrieve`` decodes to :class:`ItemRetrieve`, which is not a neutral event:
the relay answers it from the session's history and never asks the model. The relay's module
docstring has the table of every GA client event and what the server does with it.

What the server declines, and why:

* ``output_audio_buffer.clear``: WebRTC/SIP only, as at OpenAI (``invalid_value``, as OpenAI
  answers it over WebSocket); over WebSocket the client plays.
* ``response.create`` with ``conversation: "none"`` or ``input`` (out-of-band responses): the
  neutral vocabulary cannot express them. Its per-response ``audio`` settings are ignored.
* MCP tools and items: tools are the agent's, and run on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from voicewire.protocol import (
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    ClientEvent,
    ItemCreate,
    ItemDelete,
    ItemTruncate,
    Modality,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    SessionUpdate,
)
from voicewire.protocol.base64_audio import b64decode_strict

from .fields import ClientEventError, Fields, shown
from .items import decode_item_from_client
from .session_decode import MODALITIES, parse_max_tokens, parse_session, parse_tool_choice

__all__ = [
    "SERVED_CLIENT_TYPES",
    "ClientEventError",
    "ItemRetrieve",
    "WireEvent",
    "client_event_id",
    "decode_client",
]


@dataclass(frozen=True, slots=True)
class ItemRetrieve:
    """``conversation.item.retrieve``: answered by the server from the session's history."""

    item_id: str


WireEvent = ClientEvent | ItemRetrieve
"""What a client message decodes to: neutral client events, or a request the server answers."""

_Decoder = Callable[[Mapping[str, Any], Fields], Sequence[WireEvent]]

_DECLINED: Final[Mapping[str, str]] = {
    "output_audio_buffer.clear": (
        "Invalid value: output_audio_buffer.clear is only supported for WebRTC and SIP connections."
    ),
}
"""Known GA events the server refuses, with OpenAI's own message (code ``invalid_value``)."""


def client_event_id(message: object) -> str | None:
    """The client's ``event_id``, to quote in an ``error`` about this message."""
    if type(message) is dict or isinstance(message, Mapping):  # the first test is the fast one
        event_id = message.get("event_id")
        if isinstance(event_id, str):
            return event_id
    return None


def decode_client(message: Mapping[str, Any]) -> Sequence[WireEvent]:
    """Neutral client events for one parsed OpenAI Realtime client message.

    Whatever JSON value ``message`` is, the only exception is :class:`ClientEventError`
    (``tests/openai_wire/test_server_decoder_fuzz.py`` holds the decoders to it).
    """
    audio = _plain_append(message)
    if audio is not None:  # the commonest frame by far: 50 a second per talking client
        return [AudioInputAppend(audio)]
    if type(message) is not dict and not isinstance(message, Mapping):
        raise ClientEventError(
            f"a client event must be a JSON object, got {type(message).__name__}",
            code="invalid_json",
        )
    event_type = message.get("type")
    if not isinstance(event_type, str):
        raise ClientEventError(
            "a client event needs a string 'type'",
            code="missing_required_parameter" if event_type is None else "invalid_type",
            param="type",
        )
    decoder = _DECODERS.get(event_type)
    if decoder is None:
        if event_type in _DECLINED:
            raise ClientEventError(_DECLINED[event_type], code="invalid_value", param="type")
        supported = ", ".join(sorted(_DECODERS))
        raise ClientEventError(
            f"unknown client event type {shown(event_type)}; supported: {supported}",
            code="invalid_value",
            param="type",
        )
    return decoder(message, Fields(event_type))


def _plain_append(message: object) -> bytes | None:
    """The audio of a well-formed ``input_audio_buffer.append`` read straight from the dict,
    without building :class:`Fields`; ``None`` for anything else, bad audio included (the
    general path then names the problem)."""
    if type(message) is not dict or message.get("type") != "input_audio_buffer.append":
        return None
    audio = message.get("audio")
    if type(audio) is not str:
        return None
    try:
        return b64decode_strict(audio)
    except ValueError:
        return None


# --- decoders ----------------------------------------------------------------------------------


def _session_update(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [SessionUpdate(parse_session(f.mapping(m, "session", "session"), f))]


def _item_create(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    item = decode_item_from_client(f.mapping(m, "item", "item"), f)
    return [ItemCreate(item, f.opt_text(m, "previous_item_id", "previous_item_id"))]


def _item_delete(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [ItemDelete(f.text(m, "item_id", "item_id"))]


def _item_retrieve(m: Mapping[str, Any], f: Fields) -> list[WireEvent]:
    return [ItemRetrieve(f.text(m, "item_id", "item_id"))]


def _item_truncate(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [
        ItemTruncate(
            f.text(m, "item_id", "item_id"),
            f.integer(m, "audio_end_ms", "audio_end_ms"),
            f.integer(m, "content_index", "content_index"),
        )
    ]


def _audio_append(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [AudioInputAppend(f.base64(f.text(m, "audio", "audio"), "audio"))]


def _audio_commit(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [AudioInputCommit()]


def _audio_clear(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [AudioInputClear()]


def _response_create(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    raw = f.opt_mapping(m, "response", "response")
    if raw is None:
        return [ResponseCreate()]
    conversation = raw.get("conversation")
    if (conversation is not None and conversation != "auto") or raw.get("input") is not None:
        raise f.invalid(
            "response.conversation",
            "out-of-band responses (conversation 'none' or 'input') are not supported",
            code="unsupported_parameter",
        )
    modalities: tuple[Modality, ...] | None = None
    raw_modalities = f.opt_array(raw, "output_modalities", "response.output_modalities")
    if raw_modalities is not None:
        modalities = tuple(
            cast(Modality, f.choice(value, f"response.output_modalities[{index}]", MODALITIES))
            for index, value in enumerate(raw_modalities)
        )
    metadata = f.opt_mapping(raw, "metadata", "response.metadata")
    if metadata is not None and not all(isinstance(v, str) for v in metadata.values()):
        raise f.invalid("response.metadata", "must map strings to strings")
    config = ResponseConfig(
        instructions=f.opt_text(raw, "instructions", "response.instructions"),
        modalities=modalities,
        tool_choice=parse_tool_choice(raw, "response.tool_choice", f),
        max_output_tokens=parse_max_tokens(raw, "response.max_output_tokens", f),
        metadata=dict(metadata) if metadata is not None else None,
    )
    return [ResponseCreate(config)]


def _response_cancel(m: Mapping[str, Any], f: Fields) -> list[ClientEvent]:
    return [ResponseCancel(f.opt_text(m, "response_id", "response_id"))]


_DECODERS: Final[Mapping[str, _Decoder]] = {
    "session.update": _session_update,
    "conversation.item.create": _item_create,
    "conversation.item.delete": _item_delete,
    "conversation.item.retrieve": _item_retrieve,
    "conversation.item.truncate": _item_truncate,
    "input_audio_buffer.append": _audio_append,
    "input_audio_buffer.commit": _audio_commit,
    "input_audio_buffer.clear": _audio_clear,
    "response.create": _response_create,
    "response.cancel": _response_cancel,
}

SERVED_CLIENT_TYPES: Final[frozenset[str]] = frozenset(_DECODERS)
"""The GA client event ``type`` strings this server serves (not to be confused with
:data:`voicewire.protocol.CLIENT_EVENT_TYPES`, the neutral client event classes)."""
