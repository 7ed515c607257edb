"""Every GA client event is answered as OpenAI answers it, or refused with OpenAI's error
(issue 9, case 9): the table in :mod:`voicewire.server.relay`, over a real socket.

``conversation.item.retrieve`` is answered from the session's history; ids the client was never
shown (unknown, deleted, or the server's tool items) get OpenAI's ``item_*_invalid_item_id``
errors, with OpenAI's wording.
"""

from __future__ import annotations

import base64
import typing
from typing import Any

import pytest
from openai.types.realtime import RealtimeClientEvent

from voicewire.testing import AudioReply, ScriptedModel, TextReply

from .conftest import RawClient, Served, raw_client, user_text

pytestmark = pytest.mark.timeout(30)

PING = {"type": "conversation.item.retrieve", "item_id": "item_ping", "event_id": "evt_ping"}
"""Answered at once with an error: what a frame caused comes before it."""


def ga_client_event_types() -> set[str]:
    """The client event types of the ``openai`` package's GA union."""
    (union, *_) = typing.get_args(RealtimeClientEvent)
    return {
        typing.get_args(model.model_fields["type"].annotation)[0]
        for model in typing.get_args(union)
    }


SILENCE_B64 = base64.b64encode(bytes(960)).decode()

ANSWERS: dict[str, tuple[dict[str, Any], str]] = {
    # type: (a minimal valid frame, the first event it is answered with, or "error:<code>",
    # or "" when nothing is owed)
    "session.update": ({"session": {"type": "realtime"}}, "session.updated"),
    "conversation.item.create": (user_text("hi"), "conversation.item.added"),
    "conversation.item.retrieve": ({"item_id": "item_x"}, "error:item_retrieve_invalid_item_id"),
    "conversation.item.truncate": (
        {"item_id": "item_x", "content_index": 0, "audio_end_ms": 0},
        "error:item_truncate_invalid_item_id",
    ),
    "conversation.item.delete": ({"item_id": "item_x"}, "error:item_delete_invalid_item_id"),
    "input_audio_buffer.append": ({"audio": SILENCE_B64}, ""),
    "input_audio_buffer.commit": ({}, "error:input_audio_buffer_commit_empty"),
    "input_audio_buffer.clear": ({}, "input_audio_buffer.cleared"),
    "output_audio_buffer.clear": ({}, "error:invalid_value"),
    "response.create": ({}, "response.created"),
    "response.cancel": ({}, "error:response_cancel_not_active"),
}


def test_the_table_covers_every_ga_client_event() -> None:
    assert set(ANSWERS) == ga_client_event_types()


@pytest.mark.parametrize("event_type", sorted(ANSWERS))
async def test_each_ga_client_event_is_answered_as_openai_answers_it(
    served: Served, event_type: str
) -> None:
    fields, expected = ANSWERS[event_type]
    frame = {**fields, "type": event_type, "event_id": "evt_1"}
    async with raw_client(served) as client:
        await client.send(frame)
        await client.send(PING)
        answers = await answers_and_ping(client, wait_for_one=bool(expected))
    first = answers[0] if answers else None
    if first is None:
        assert expected == ""
    elif first["type"] == "error":
        assert f"error:{first['error']['code']}" == expected
        assert first["error"]["type"] == "invalid_request_error"
    else:
        assert first["type"] == expected


async def answers_and_ping(client: RawClient, *, wait_for_one: bool) -> list[dict[str, Any]]:
    """Frames other than the ping's error, read until that error has come (and, if
    ``wait_for_one``, at least one other frame: a response starts after the ping's error)."""
    answers: list[dict[str, Any]] = []
    pinged = False
    while not pinged or (wait_for_one and not answers):
        frame = await client.recv()
        if frame["type"] == "error" and frame["error"]["event_id"] == "evt_ping":
            pinged = True
        else:
            answers.append(frame)
    return answers


async def test_an_item_is_retrieved_as_it_was_added(served: Served) -> None:
    async with raw_client(served) as client:
        await client.send(user_text("Remember this.", event_id="evt_create"))
        [*_, done] = await client.until("conversation.item.done")
        await client.send({"type": "conversation.item.retrieve", "item_id": done["item"]["id"]})
        retrieved = await client.recv()
    assert retrieved["type"] == "conversation.item.retrieved"
    assert retrieved["item"] == done["item"]


async def test_the_assistants_answer_is_retrieved_with_its_words(
    served: Served, model: ScriptedModel
) -> None:
    model.script.default = AudioReply("Spoken words.", duration_ms=200)
    async with raw_client(served) as client:
        await client.send(user_text("Say something."))
        await client.send({"type": "response.create"})
        [*_, done] = await client.until("response.done")
        [answer] = done["response"]["output"]
        await client.send({"type": "conversation.item.retrieve", "item_id": answer["id"]})
        retrieved = await client.recv()
    assert retrieved["type"] == "conversation.item.retrieved"
    assert retrieved["item"]["role"] == "assistant"
    assert retrieved["item"]["content"] == [{"type": "output_audio", "transcript": "Spoken words."}]


async def test_an_unknown_item_gets_openais_error(served: Served) -> None:
    async with raw_client(served) as client:
        await client.send(
            {"type": "conversation.item.retrieve", "item_id": "item_nope", "event_id": "evt_9"}
        )
        error = await client.recv()
    assert error["type"] == "error"
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "item_retrieve_invalid_item_id",
        "message": "Error retrieving item: the item with id 'item_nope' does not exist.",
        "param": None,
        "event_id": "evt_9",
    }


async def test_a_deleted_item_is_gone(served: Served) -> None:
    async with raw_client(served) as client:
        await client.send(user_text("Forget this."))
        [*_, done] = await client.until("conversation.item.done")
        item_id = done["item"]["id"]
        await client.send({"type": "conversation.item.delete", "item_id": item_id})
        deleted = await client.recv()
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        error = await client.recv()
    assert deleted == {**deleted, "type": "conversation.item.deleted", "item_id": item_id}
    assert error["error"]["code"] == "item_retrieve_invalid_item_id"


async def test_the_servers_tool_items_are_not_shown(served: Served) -> None:
    async with raw_client(served) as client:
        await client.send(user_text("What is the weather in Paris?"))
        await client.send({"type": "response.create"})
        await client.until("response.done")
        [relay] = served.server.relays
        tool_items = [item.id for item in relay.session.history.items if item.kind != "message"]
        assert tool_items  # the call and its output
        for item_id in tool_items:
            await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
            error = await client.recv()
            assert error["error"]["code"] == "item_retrieve_invalid_item_id"


async def test_a_running_response_is_cancelled(served: Served, model: ScriptedModel) -> None:
    model.script.default = TextReply("one two three four five six", pace=0.05)
    async with raw_client(served) as client:
        await client.send({"type": "response.create"})
        [*_, created] = await client.until("response.created")
        await client.send({"type": "response.cancel", "response_id": "resp_other"})
        [*_, error] = await client.until("error")
        await client.send({"type": "response.cancel", "response_id": created["response"]["id"]})
        frames = await client.until("response.done")
    assert error["error"]["code"] == "response_cancel_not_active"
    assert "error" not in [frame["type"] for frame in frames]
    assert frames[-1]["response"]["status"] == "cancelled"


async def test_a_response_asked_for_can_be_cancelled_before_it_starts(
    served: Served, model: ScriptedModel
) -> None:
    model.script.default = TextReply("one two three four five six", pace=0.05)
    async with raw_client(served) as client:
        await client.send({"type": "response.create"})
        await client.send({"type": "response.cancel"})  # before response.created is back
        frames = await client.until("response.done")
    assert "error" not in [frame["type"] for frame in frames]
    assert frames[-1]["response"]["status"] == "cancelled"
