"""Items on the wire: the client reads a provider's items leniently, the server a client's
strictly (``voicewire.openai_wire.items`` says why), with the same field checks on both sides."""

from __future__ import annotations

from typing import Any

import pytest

from voicewire.openai_wire.fields import ClientEventError, Fields, ServerEventFields
from voicewire.openai_wire.items import (
    decode_item_from_client,
    decode_item_from_server,
    encode_item_for_client,
    encode_item_for_server,
)
from voicewire.protocol import AudioPart, MessageItem, ProtocolError, TextPart

MCP_CALL: dict[str, Any] = {"type": "mcp_call", "id": "item_1", "name": "search"}
WITH_IMAGE: dict[str, Any] = {
    "type": "message",
    "role": "user",
    "content": [
        {"type": "input_image", "image_url": "data:"},
        {"type": "input_text", "text": "hi"},
    ],
}


def test_the_client_skips_an_item_kind_with_no_neutral_form() -> None:
    assert decode_item_from_server(MCP_CALL, ServerEventFields("conversation.item.added")) is None


def test_the_server_refuses_an_item_kind_it_cannot_serve() -> None:
    with pytest.raises(ClientEventError, match=r"'item\.type'") as caught:
        decode_item_from_client(MCP_CALL, Fields("conversation.item.create"))
    assert caught.value.param == "item.type"


def test_the_client_skips_a_content_part_with_no_neutral_form() -> None:
    item = decode_item_from_server(WITH_IMAGE, ServerEventFields("conversation.item.added"))
    assert item == MessageItem(None, "user", (TextPart("hi"),))


def test_the_server_refuses_a_content_part_it_cannot_serve() -> None:
    with pytest.raises(ClientEventError, match=r"'item\.content\[0\]\.type'"):
        decode_item_from_client(WITH_IMAGE, Fields("conversation.item.create"))


def test_the_client_keeps_a_status_the_server_does_not_read() -> None:
    raw = {"type": "message", "role": "user", "status": "completed", "content": []}
    from_server = decode_item_from_server(raw, ServerEventFields("conversation.item.added"))
    assert from_server == MessageItem(None, "user", (), "completed")
    assert decode_item_from_client(raw, Fields("conversation.item.create")) == MessageItem(
        None, "user", ()
    )


@pytest.mark.parametrize(
    ("side", "error"),
    [
        (ServerEventFields("conversation.item.added"), ProtocolError),
        (Fields("conversation.item.create"), ClientEventError),
    ],
    ids=["client reads", "server reads"],
)
def test_both_sides_check_a_field_alike(side: Any, error: type[Exception]) -> None:
    raw = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": 7}]}
    reader = (
        decode_item_from_server if isinstance(side, ServerEventFields) else decode_item_from_client
    )
    with pytest.raises(error, match=r"'item\.content\[0\]\.text' must be a string or null"):
        reader(raw, side)


def test_what_each_side_writes() -> None:
    item = MessageItem("item_1", "user", (AudioPart("hello", b"\x00\x01"),))
    assert encode_item_for_server(item) == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": "AAE=", "transcript": "hello"}],
        "id": "item_1",
    }
    # The server shows the client its item without the audio it already has.
    assert encode_item_for_client(item, "item_1")["content"] == [
        {"type": "input_audio", "transcript": "hello"}
    ]
