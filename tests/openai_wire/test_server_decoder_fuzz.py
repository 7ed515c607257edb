"""Property-based fuzzing of the server's client-frame decoder.

Whatever a client sends, :func:`decode_client` either returns neutral events or raises
:class:`ClientEventError` with a short message (the relay turns it into one ``error`` event and
goes on); any other exception would escape the relay and drop the connection.

Two kinds of frames are generated: arbitrary JSON values, and — the ones that reach deep into the
decoders — valid GA client events of every type with one to three of their fields (at any nesting
level) replaced by arbitrary JSON, deleted, or joined by an unknown key.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicewire.openai_wire.formats import MAX_PCM_RATE, MIN_PCM_RATE
from voicewire.protocol import AudioFormat, ClientEvent, SessionUpdate
from voicewire.server import ClientEventError, decode_client
from voicewire.testing import validate_client_event

from .test_server_decoder import FULL_SESSION

_AUDIO = base64.b64encode(b"\x01\x00" * 8).decode()

VALID_FRAMES: list[dict[str, Any]] = [
    {"type": "session.update", "event_id": "evt_1", "session": FULL_SESSION},
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcma"},
                    "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                },
                "output": {"voice": {"id": "voice_1"}},
            },
            "tool_choice": "required",
            "max_output_tokens": "inf",
        },
    },
    {
        "type": "conversation.item.create",
        "previous_item_id": "item_0",
        "item": {
            "id": "item_1",
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "hello"},
                {"type": "input_audio", "audio": _AUDIO, "transcript": "hello"},
            ],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "hi"}],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    },
    {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "c1", "output": "42"},
    },
    {"type": "conversation.item.delete", "item_id": "item_1"},
    {
        "type": "conversation.item.truncate",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    {"type": "input_audio_buffer.append", "audio": _AUDIO},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {
        "type": "response.create",
        "response": {
            "conversation": "auto",
            "instructions": "Shout.",
            "output_modalities": ["text"],
            "metadata": {"topic": "x"},
            "tool_choice": {"type": "function", "name": "lookup"},
            "max_output_tokens": 100,
        },
    },
    {"type": "response.cancel", "response_id": "resp_1"},
]
"""One or more valid GA client events of each type the server serves."""

TEMPLATES = [*VALID_FRAMES, {"type": "conversation.item.retrieve", "item_id": "item_1"}]
"""What the fuzzer mutates (declined event types included)."""


def _walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) inside a JSON value, the root included."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, (*path, index))


def _parent(frame: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        frame = frame[key]
    return frame


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and infinities included: 1e400 parses as inf even when NaN is refused
    | st.text(max_size=12)
    | st.integers(65, 3000).map(lambda n: "é" * n)  # long enough to be cut short in errors
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value (as the relay's parser gives it), plus the non-finite floats."""

_STRINGS = sorted(
    {value for frame in TEMPLATES for _, value in _walk(frame) if isinstance(value, str)}
    | {"video", "none", "system", "auto", "audio/flac", "text", "audio", "function", "inf"}
)
PLAUSIBLE = (
    st.sampled_from(_STRINGS)
    | st.sampled_from([-1, 0, 1, 99, 100, 7999, 8000, 16000, 24000, 48000, 48001, 2**31, 10**30])
    | st.sampled_from([0.0, 0.5, -1.0, 1e308, math.inf, -math.inf, math.nan])
    | st.sampled_from([[], {}, [{}], [[]], ["audio", {}], [None], {"": {}}])
)
"""Values that pass a decoder's first check and reach the next one."""


_WEIGHTED = [frame for frame in TEMPLATES for _ in range(1 + len(list(_walk(frame))) // 6)]
"""The templates, the larger ones more often (they have more fields to damage)."""


@st.composite
def mutated_frames(draw: st.DrawFn) -> Any:
    """A valid frame with 1-3 fields replaced, deleted or added, at any depth."""
    frame = copy.deepcopy(draw(st.sampled_from(_WEIGHTED)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [path for path, _ in _walk(frame)]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        value = copy.deepcopy(draw(PLAUSIBLE | JSON_VALUES))  # PLAUSIBLE shares its lists
        if not path:  # the root: only added to (other roots are any JSON value's test)
            action = "add"
        if action == "replace":
            _parent(frame, path)[path[-1]] = value
        elif action == "delete":
            parent = _parent(frame, path)
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        else:
            target = _parent(frame, path)[path[-1]] if path else frame
            if isinstance(target, dict):
                target[draw(st.sampled_from([*_STRINGS, "rate", "role", "type"]))] = value
            elif isinstance(target, list):
                target.append(value)
    return frame


def assert_decodes_or_refuses(frame: Any) -> None:
    """The decoder's whole contract: events, or a short ClientEventError; nothing else."""
    try:
        events = decode_client(frame)
    except ClientEventError as exc:
        assert isinstance(exc.code, str) and exc.code
        assert exc.message and len(exc.message) <= 600, exc.message
        assert exc.param is None or isinstance(exc.param, str)
        return
    assert isinstance(events, list) and events
    for event in events:
        _assert_sound(event)


def _assert_sound(value: object) -> None:
    """Every number a decoded event carries is finite, and every audio format one the server
    accepts (an infinite speed or a 10 Hz rate would reach the model and the client)."""
    if isinstance(value, float):
        assert math.isfinite(value), value
    elif isinstance(value, AudioFormat):
        assert value.encoding != "pcm16" or MIN_PCM_RATE <= value.sample_rate <= MAX_PCM_RATE
        assert value.channels == 1
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _assert_sound(getattr(value, field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            _assert_sound(item)


def _fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no .hypothesis directory in the tree; failures print their example
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("frame", VALID_FRAMES, ids=lambda frame: str(frame["type"]))
def test_valid_frames_decode(frame: dict[str, Any]) -> None:
    assert validate_client_event(frame) == []
    events = decode_client(frame)
    assert events and all(isinstance(event, ClientEvent) for event in events)
    assert_decodes_or_refuses(frame)


@_fuzz(500)
@given(JSON_VALUES)
def test_any_json_value_decodes_or_is_refused(frame: Any) -> None:
    assert_decodes_or_refuses(frame)


@_fuzz(1500)
@given(mutated_frames())
def test_damaged_client_events_decode_or_are_refused(frame: Any) -> None:
    assert_decodes_or_refuses(frame)


@pytest.mark.parametrize(
    ("frame", "param"),
    [
        (
            {"type": "conversation.item.create", "item": {"type": "message", "role": {}}},
            "item.role",
        ),
        (
            {"type": "conversation.item.create", "item": {"type": "message", "role": ["user"]}},
            "item.role",
        ),
        (
            {"type": "session.update", "session": {"output_modalities": [{}]}},
            "session.output_modalities[0]",
        ),
        (
            {"type": "response.create", "response": {"output_modalities": [[]]}},
            "response.output_modalities[0]",
        ),
        (
            {"type": "session.update", "session": {"audio": {"output": {"speed": math.nan}}}},
            "session.audio.output.speed",
        ),
        (
            {"type": "session.update", "session": {"audio": {"output": {"speed": 10**400}}}},
            "session.audio.output.speed",
        ),
        (
            {
                "type": "session.update",
                "session": {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 50}}}},
            },
            "session.audio.input.format.rate",
        ),
    ],
)
def test_the_frames_that_used_to_escape(frame: dict[str, Any], param: str) -> None:
    with pytest.raises(ClientEventError) as caught:
        decode_client(frame)
    assert caught.value.param == param
    assert_decodes_or_refuses(frame)


@pytest.mark.parametrize(
    ("rate", "accepted"),
    [(7999, False), (8000, True), (16000, True), (24000, True), (48000, True), (48001, False)],
)
def test_pcm_rates_the_server_accepts(rate: int, accepted: bool) -> None:
    audio = {"input": {"format": {"type": "audio/pcm", "rate": rate}}}
    frame = {"type": "session.update", "session": {"audio": audio}}
    if accepted:
        [event] = decode_client(frame)
        assert isinstance(event, SessionUpdate)
        assert event.config.input_audio_format == AudioFormat.pcm16(rate)
        return
    with pytest.raises(ClientEventError) as caught:
        decode_client(frame)
    assert caught.value.param == "session.audio.input.format.rate"
    assert "8000..48000" in caught.value.message
