"""Shared helpers for the client codec's conformance tests (here, in tests/providers/openai and in
tests/providers/xai): the published specs, strict validation of client messages against the
official ``openai`` models, and server payloads built with them."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel, Field, TypeAdapter

DATA = Path(__file__).parent / "data"


@cache
def load_spec(name: str) -> dict[str, Any]:
    """A spec from ``tests/openai_wire/data`` (vendored so a fresh clone can run the tests)."""
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def openai_server_types() -> list[str]:
    return [
        entry["type"] for entry in load_spec("openai_realtime_ga_events.json")["server_to_client"]
    ]


def openai_server_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for entry in load_spec("openai_realtime_ga_events.json")["server_to_client"]:
        module, _, name = entry["model"].rpartition(".")
        models[entry["type"]] = getattr(importlib.import_module(module), name)
    return models


# --- strict validation of client messages ------------------------------------------------------

_CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(
    Annotated[RealtimeClientEvent, Field(discriminator="type")]
)


def unknown_keys(value: object, path: str = "$") -> Iterator[str]:
    """Paths of keys a validated model kept as extras, i.e. keys its schema does not know.

    The ``openai`` models accept unknown keys (``extra="allow"``) and store them in
    ``model_extra``; walking every nested model finds them. Free-form fields (a tool's JSON
    schema ``parameters``) hold plain dicts, not models, and are rightly not inspected.
    """
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from unknown_keys(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from unknown_keys(item, f"{path}.{key}")


def validate_client_event(message: dict[str, Any]) -> BaseModel:
    """Validate ``message`` STRICTLY as an OpenAI GA client event, or raise.

    Three checks: pydantic strict mode on the JSON text (no coercion: ``"24000"`` is not a rate);
    no key anywhere that the official models do not declare; and the model dumps back to exactly
    the message, so no value was altered or dropped on the way.
    """
    wire = json.loads(json.dumps(message))
    model: BaseModel = _CLIENT_EVENT.validate_json(json.dumps(message), strict=True)
    extras = list(unknown_keys(model))
    if extras:
        raise AssertionError(f"keys the openai models do not know: {extras}")
    dumped = model.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if dumped != wire:
        raise AssertionError(f"message changed in validation:\n{wire}\n!=\n{dumped}")
    return model


# --- server payloads built with the openai models ---------------------------------------------

AUDIO = bytes(range(256)) * 4
AUDIO_B64 = base64.b64encode(AUDIO).decode("ascii")
RESPONSE_ID = "resp_C9xk2"
ITEM_ID = "item_C9xk3"
CALL_ID = "call_C9xk4"

USAGE = {
    "input_tokens": 1250,
    "output_tokens": 320,
    "total_tokens": 1570,
    "input_token_details": {
        "audio_tokens": 900,
        "text_tokens": 350,
        "cached_tokens": 640,
        "image_tokens": 0,
        "cached_tokens_details": {"audio_tokens": 512, "text_tokens": 128, "image_tokens": 0},
    },
    "output_token_details": {"audio_tokens": 250, "text_tokens": 70},
}

_WHERE = {"response_id": RESPONSE_ID, "item_id": ITEM_ID, "output_index": 0, "content_index": 0}

USER_MESSAGE = {
    "id": "item_user1",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [
        {"type": "input_text", "text": "What's the weather?"},
        {"type": "input_audio", "audio": AUDIO_B64, "transcript": "in Paris"},
    ],
}
ASSISTANT_MESSAGE = {
    "id": ITEM_ID,
    "object": "realtime.item",
    "type": "message",
    "status": "in_progress",
    "role": "assistant",
    "content": [
        {"type": "output_audio", "transcript": "It is sunny"},
        {"type": "output_text", "text": " and 21 degrees."},
    ],
}
FUNCTION_CALL = {
    "id": "item_fc1",
    "object": "realtime.item",
    "type": "function_call",
    "status": "in_progress",
    "call_id": CALL_ID,
    "name": "get_weather",
    "arguments": "",
}
ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'

SERVER_FIELDS: dict[str, dict[str, Any]] = {
    "conversation.created": {"conversation": {"id": "conv_C9x", "object": "realtime.conversation"}},
    "conversation.item.created": {"previous_item_id": "item_prev", "item": USER_MESSAGE},
    "conversation.item.deleted": {"item_id": ITEM_ID},
    "conversation.item.input_audio_transcription.completed": {
        "item_id": "item_user1",
        "content_index": 0,
        "transcript": "What's the weather in Paris?",
        "usage": {"type": "duration", "seconds": 2.4},
    },
    "conversation.item.input_audio_transcription.delta": {
        "item_id": "item_user1",
        "content_index": 0,
        "delta": "What's the",
    },
    "conversation.item.input_audio_transcription.failed": {
        "item_id": "item_user1",
        "content_index": 0,
        "error": {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "The audio could not be transcribed.",
            "param": None,
        },
    },
    "conversation.item.retrieved": {"item": USER_MESSAGE},
    "conversation.item.truncated": {"item_id": ITEM_ID, "content_index": 0, "audio_end_ms": 1500},
    "error": {
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "Invalid value: 'loud'. Supported values are: 'alloy', 'marin'.",
            "param": "session.audio.output.voice",
            "event_id": "client_evt_7",
        }
    },
    "input_audio_buffer.cleared": {},
    "input_audio_buffer.committed": {"item_id": "item_user1", "previous_item_id": "item_prev"},
    "input_audio_buffer.dtmf_event_received": {"event": "5", "received_at": 1_763_000_000},
    "input_audio_buffer.speech_started": {"item_id": "item_user1", "audio_start_ms": 1020},
    "input_audio_buffer.speech_stopped": {"item_id": "item_user1", "audio_end_ms": 2980},
    "rate_limits.updated": {
        "rate_limits": [
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06},
            {"name": "tokens", "limit": 50000, "remaining": 48430, "reset_seconds": 1.9},
        ]
    },
    "response.output_audio.delta": {**_WHERE, "delta": AUDIO_B64},
    "response.output_audio.done": dict(_WHERE),
    "response.output_audio_transcript.delta": {**_WHERE, "delta": "It is"},
    "response.output_audio_transcript.done": {**_WHERE, "transcript": "It is sunny."},
    "response.content_part.added": {**_WHERE, "part": {"type": "audio", "transcript": ""}},
    "response.content_part.done": {**_WHERE, "part": {"type": "audio", "transcript": "Sunny."}},
    "response.created": {
        "response": {
            "id": RESPONSE_ID,
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
            "conversation_id": "conv_C9x",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        }
    },
    "response.done": {
        "response": {
            "id": RESPONSE_ID,
            "object": "realtime.response",
            "status": "completed",
            "status_details": {"type": "completed"},
            "output": [ASSISTANT_MESSAGE],
            "usage": USAGE,
        }
    },
    "response.function_call_arguments.delta": {
        "response_id": RESPONSE_ID,
        "item_id": "item_fc1",
        "output_index": 0,
        "call_id": CALL_ID,
        "delta": '{"city": ',
    },
    "response.function_call_arguments.done": {
        "response_id": RESPONSE_ID,
        "item_id": "item_fc1",
        "output_index": 0,
        "call_id": CALL_ID,
        "name": "get_weather",
        "arguments": ARGUMENTS,
    },
    "response.output_item.added": {
        "response_id": RESPONSE_ID,
        "output_index": 0,
        "item": FUNCTION_CALL,
    },
    "response.output_item.done": {
        "response_id": RESPONSE_ID,
        "output_index": 0,
        "item": {**FUNCTION_CALL, "status": "completed", "arguments": ARGUMENTS},
    },
    "response.output_text.delta": {**_WHERE, "delta": "Sunny"},
    "response.output_text.done": {**_WHERE, "text": "Sunny and mild."},
    "session.created": {
        "session": {
            "type": "realtime",
            "id": "sess_C9x",
            "object": "realtime.session",
            "model": "gpt-realtime",
            "output_modalities": ["audio"],
            "instructions": "Be brief.",
        }
    },
    "session.updated": {
        "session": {"type": "realtime", "id": "sess_C9x", "instructions": "Be briefer."}
    },
    "output_audio_buffer.started": {"response_id": RESPONSE_ID},
    "output_audio_buffer.stopped": {"response_id": RESPONSE_ID},
    "output_audio_buffer.cleared": {"response_id": RESPONSE_ID},
    "conversation.item.added": {"previous_item_id": "item_user1", "item": ASSISTANT_MESSAGE},
    "conversation.item.done": {
        "previous_item_id": "item_user1",
        "item": {**ASSISTANT_MESSAGE, "status": "completed"},
    },
    "input_audio_buffer.timeout_triggered": {
        "item_id": "item_user2",
        "audio_start_ms": 4000,
        "audio_end_ms": 9000,
    },
    "conversation.item.input_audio_transcription.segment": {
        "id": "seg_1",
        "item_id": "item_user1",
        "content_index": 0,
        "start": 0.0,
        "end": 1.4,
        "speaker": "A",
        "text": "What's the weather",
    },
    "mcp_list_tools.in_progress": {"item_id": "item_mcp1"},
    "mcp_list_tools.completed": {"item_id": "item_mcp1"},
    "mcp_list_tools.failed": {"item_id": "item_mcp1"},
    "response.mcp_call_arguments.delta": {
        "response_id": RESPONSE_ID,
        "item_id": "item_mcp2",
        "output_index": 0,
        "delta": '{"q":',
    },
    "response.mcp_call_arguments.done": {
        "response_id": RESPONSE_ID,
        "item_id": "item_mcp2",
        "output_index": 0,
        "arguments": '{"q": "x"}',
    },
    "response.mcp_call.in_progress": {"item_id": "item_mcp2", "output_index": 0},
    "response.mcp_call.completed": {"item_id": "item_mcp2", "output_index": 0},
    "response.mcp_call.failed": {"item_id": "item_mcp2", "output_index": 0},
}
"""Realistic fields of one server event of every GA type (without ``type`` / ``event_id``)."""


def server_payload(type_: str, **overrides: Any) -> dict[str, Any]:
    """A server message of ``type_`` as the wire carries it: validated by its official model,
    then dumped to JSON form without nulls."""
    model_cls = openai_server_models()[type_]
    fields: dict[str, Any] = {"type": type_, **SERVER_FIELDS[type_], **overrides}
    if "event_id" in model_cls.model_fields:
        fields["event_id"] = "event_C9xk1"
    model = model_cls.model_validate(fields)
    payload: dict[str, Any] = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return payload
