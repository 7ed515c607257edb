"""Malformed server input: a clear ProtocolError naming the event type and field, never a
KeyError/TypeError; unknown types decode to nothing; bad base64 fails only when read."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.openai_wire.support import USER_MESSAGE, server_payload
from voicewire.protocol import AudioOutputDelta, ProtocolError
from voicewire.providers.openai import codec as openai_codec
from voicewire.providers.openai_protocol.codec import OpenAIProtocolCodec
from voicewire.providers.openai_protocol.dialect import OPENAI, XAI
from voicewire.providers.xai import codec as xai_codec


@pytest.mark.parametrize(
    "message", [None, "response.done", b"{}", 42, 1.5, ["type"], ("type",), object()]
)
def test_non_objects_are_protocol_errors(message: Any) -> None:
    with pytest.raises(ProtocolError, match="JSON object"):
        openai_codec.decode_server(message)


def test_missing_or_non_string_type() -> None:
    with pytest.raises(ProtocolError, match="no 'type'"):
        openai_codec.decode_server({"event_id": "e1"})
    for bad in (None, 5, ["response.done"], {"a": 1}, True):
        with pytest.raises(ProtocolError, match="'type' must be a string"):
            openai_codec.decode_server({"type": bad})


def test_unknown_types_decode_to_nothing_and_are_reported_unknown() -> None:
    message = {"type": "response.hologram.delta", "event_id": "e1", "delta": 3}
    assert openai_codec.decode_server(message) == []
    assert not openai_codec.is_known("response.hologram.delta")
    assert openai_codec.is_known("rate_limits.updated")  # ignored on purpose, but known
    assert openai_codec.is_known("response.output_audio.delta")


def test_messages_name_the_event_type_and_field() -> None:
    with pytest.raises(ProtocolError) as caught:
        openai_codec.decode_server({"type": "response.output_audio.delta", "item_id": "i"})
    text = str(caught.value)
    assert "'response.output_audio.delta'" in text
    assert "'delta'" in text
    assert "missing" in text

    with pytest.raises(ProtocolError, match=r"'response\.usage\.input_tokens' must be an integer"):
        openai_codec.decode_server(
            {"type": "response.done", "response": {"id": "r", "usage": {"input_tokens": "12"}}}
        )
    with pytest.raises(ProtocolError, match=r"'item\.content\[1\]\.text'"):
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": 7}],
        }
        openai_codec.decode_server({"type": "conversation.item.added", "item": item})
    with pytest.raises(ProtocolError, match=r"'audio_end_ms' must be an integer, got bool"):
        openai_codec.decode_server(
            {"type": "conversation.item.truncated", "item_id": "i", "audio_end_ms": True}
        )
    with pytest.raises(ProtocolError, match=r"'response\.status'"):
        openai_codec.decode_server({"type": "response.done", "response": {"status": "exploded"}})
    with pytest.raises(ProtocolError, match=r"'item\.role'"):
        item = {"type": "message", "role": "developer", "content": []}
        openai_codec.decode_server({"type": "conversation.item.created", "item": item})
    with pytest.raises(ProtocolError, match=r"'name'"):
        openai_codec.decode_server(
            {
                "type": "response.function_call_arguments.done",
                "call_id": "c",
                "arguments": "{}",
            }
        )


def test_invalid_base64_audio_is_caught_when_read() -> None:
    payload = server_payload("response.output_audio.delta", delta="not base64!!")
    (event,) = openai_codec.decode_server(payload)
    assert isinstance(event, AudioOutputDelta)
    assert event.audio_b64 == "not base64!!"
    with pytest.raises(ProtocolError, match="base64"):
        _ = event.audio


def test_invalid_base64_in_an_item_is_a_protocol_error() -> None:
    item = copy.deepcopy(USER_MESSAGE)
    item["content"][1]["audio"] = "%%%"
    with pytest.raises(ProtocolError, match=r"'item\.content\[1\]\.audio' is not valid base64"):
        openai_codec.decode_server({"type": "conversation.item.added", "item": item})


def test_invalid_json_text() -> None:
    with pytest.raises(ProtocolError, match="malformed JSON") as info:
        openai_codec.decode_server_text('{"type": "response.done"')
    assert info.value.code == "invalid_json"
    with pytest.raises(ProtocolError, match="JSON object"):
        openai_codec.decode_server_text("[1, 2]")


# --- every field of every decoded payload, removed or mistyped --------------------------------

_WRONG_VALUES: tuple[object, ...] = (None, 12345, -1.5, True, "text", [], ["x"], {}, {"k": 1})


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _paths(item, (*path, index))


def _mutations(payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in _paths(payload):
        if path == ("type",):
            continue
        *parents, last = path
        removed = copy.deepcopy(payload)
        container: Any = removed
        for key in parents:
            container = container[key]
        del container[last]
        yield f"del {path}", removed
        for wrong in _WRONG_VALUES:
            mutated = copy.deepcopy(payload)
            container = mutated
            for key in parents:
                container = container[key]
            container[last] = wrong
            yield f"{path} = {wrong!r}", mutated


@pytest.mark.parametrize("dialect", [OPENAI, XAI], ids=lambda d: d.name)
def test_mutated_payloads_never_raise_anything_but_protocol_error(dialect: Any) -> None:
    codec = OpenAIProtocolCodec(dialect)
    checked = 0
    for type_ in sorted(openai_codec.CODEC.handled_types):
        for label, message in _mutations(server_payload(type_)):
            try:
                events = codec.decode_server(message)
            except ProtocolError as exc:
                # The codec's safety net names the Python exception it caught; it must not fire.
                assert "Error:" not in str(exc), f"{label}: {exc}"
            else:
                assert isinstance(events, list), label
            checked += 1
    assert checked > 1500


@pytest.mark.parametrize(
    "type_",
    [
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_text.delta",
        "conversation.item.input_audio_transcription.delta",
    ],
)
def test_hot_path_rejects_wrong_types(type_: str) -> None:
    """The fast paths check types too: a wrong type is a ProtocolError, not a bad event."""
    for field in ("delta", "response_id", "item_id"):
        payload = server_payload(type_)
        if field not in payload:
            continue
        payload[field] = 12
        with pytest.raises(ProtocolError, match=repr(field)):
            openai_codec.decode_server(payload)
    payload = server_payload(type_)
    if "content_index" in payload and type_ == "response.output_audio.delta":
        payload["content_index"] = "0"
        with pytest.raises(ProtocolError, match="'content_index'"):
            openai_codec.decode_server(payload)


def test_xai_module_shares_the_guarantees() -> None:
    with pytest.raises(ProtocolError):
        xai_codec.decode_server({"type": "conversation.created"})
    assert xai_codec.decode_server({"type": "response.hologram.delta"}) == []
