"""``RealtimeCapabilities``: what a model can take, as data, and how live changes are judged."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from voicewire.protocol import (
    CLIENT_EVENT_TYPES,
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    AudioRange,
    ItemCreate,
    ItemDelete,
    ItemTruncate,
    RealtimeCapabilities,
    ResponseCancel,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    ToolDefinition,
    ToolResult,
    TurnDetection,
    VoiceConfig,
    render_capabilities_table,
    user_text,
)
from voicewire.protocol.capabilities import telephony_and_pcm

ONE_OF_EACH = [
    SessionUpdate(SessionConfig()),
    ItemCreate(user_text("hi")),
    ItemDelete("item_1"),
    ItemTruncate("item_1", 100),
    AudioInputAppend(b"\x00\x00"),
    AudioInputCommit(),
    AudioInputClear(),
    ActivityStart(),
    ActivityEnd(),
    ResponseCreate(),
    ResponseCancel(),
    ToolResult("call_1", "{}"),
]


def test_one_of_each_client_event_is_listed() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(CLIENT_EVENT_TYPES)


def test_the_defaults_take_every_client_event() -> None:
    everything = RealtimeCapabilities()
    assert everything.unsupported_client_events() == frozenset()
    assert all(everything.can_send(event) for event in ONE_OF_EACH)


@pytest.mark.parametrize(
    ("flag", "kinds"),
    [
        ("item_truncate", {"item.truncate"}),
        ("item_delete", {"item.delete"}),
        ("response_create", {"response.create"}),
        ("response_cancel", {"response.cancel"}),
        ("input_commit", {"audio.input.commit"}),
        ("input_clear", {"audio.input.clear"}),
        ("activity_signals", {"activity.start", "activity.end"}),
    ],
)
def test_each_event_flag_refuses_exactly_its_events(flag: str, kinds: set[str]) -> None:
    caps = RealtimeCapabilities(**{flag: False})
    assert caps.unsupported_client_events() == kinds
    assert {e.kind for e in ONE_OF_EACH if not caps.can_send(e)} == kinds


def test_capabilities_are_frozen_values() -> None:
    caps = RealtimeCapabilities()
    with pytest.raises(FrozenInstanceError):
        caps.item_truncate = False  # type: ignore[misc]
    assert caps == RealtimeCapabilities() and hash(caps) == hash(RealtimeCapabilities())


def test_audio_ranges_cover_encoding_rate_and_channels() -> None:
    pcm, ulaw, alaw = telephony_and_pcm(8000, 48000)
    assert pcm.covers(AudioFormat.pcm16(8000)) and pcm.covers(AudioFormat.pcm16(48000))
    assert not pcm.covers(AudioFormat.pcm16(96000))
    assert not pcm.covers(AudioFormat.pcm16(24000, channels=2))
    assert not pcm.covers(AudioFormat.pcmu())
    assert ulaw.covers(AudioFormat.pcmu()) and alaw.covers(AudioFormat.pcma())
    assert pcm.describe() == "PCM16 8-48 kHz"
    assert AudioRange("pcm16", 24000, 24000).describe() == "PCM16 24 kHz"
    assert ulaw.describe() == "G.711 µ-law 8 kHz"
    assert RealtimeCapabilities().input_audio[0].describe() == "PCM16 8-192 kHz, any channels"


# -- live changes ------------------------------------------------------------------------------

BASE = SessionConfig(
    instructions="Be brief.",
    voice=VoiceConfig("marin", 1.0),
    turn_detection=TurnDetection(),
    input_audio_format=AudioFormat.pcm16(24000),
)
FIXED = RealtimeCapabilities(
    live_instructions=False,
    live_tools=False,
    live_voice="never",
    live_turn_detection=False,
    live_audio_formats=False,
)
TOOL = ToolDefinition("lookup", "Look it up.", {"type": "object", "properties": {}})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"instructions": "Be verbose."}, "instructions"),
        ({"tools": (TOOL,)}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"voice": VoiceConfig("cedar")}, "voice"),
        ({"turn_detection": TurnDetection("manual")}, "turn_detection"),
        ({"input_audio_format": AudioFormat.pcmu()}, "input_audio_format"),
        ({"output_audio_format": AudioFormat.pcmu()}, "output_audio_format"),
    ],
)
def test_a_fixed_field_is_refused_by_name(change: dict[str, object], field: str) -> None:
    new = replace(BASE, **change)  # type: ignore[arg-type]
    refused = FIXED.refuse_update(BASE, new, spoken=False)
    assert refused is not None and refused[0] == field
    assert RealtimeCapabilities().refuse_update(BASE, new, spoken=True) is None


def test_setting_a_fixed_field_to_what_it_is_is_no_change() -> None:
    same = replace(BASE, voice=VoiceConfig("marin", 1.2), modalities=("text",))
    assert FIXED.refuse_update(BASE, same, spoken=True) is None  # speed is not the voice
    assert FIXED.refuse_update(BASE, BASE, spoken=True) is None


def test_a_voice_fixed_after_audio_changes_until_the_model_speaks() -> None:
    caps = RealtimeCapabilities(live_voice="before_audio")
    new = replace(BASE, voice=VoiceConfig("cedar"))
    assert caps.refuse_update(BASE, new, spoken=False) is None
    assert caps.refuse_update(BASE, new, spoken=True) == (
        "voice",
        "cannot change its voice once it has spoken in the session",
    )


def test_the_table_has_a_row_per_capability_and_a_column_per_model() -> None:
    table = render_capabilities_table(
        {"a": RealtimeCapabilities(), "b": RealtimeCapabilities(item_truncate=False)}
    ).splitlines()
    assert table[0] == "| capability | a | b |"
    assert table[1] == "| --- | --- | --- |"
    assert "| cut an item to what was heard (`item.truncate`) | yes | no |" in table
    assert "| change the voice mid-session | yes | yes |" in table
    assert len(table) == 2 + len(RealtimeCapabilities.__dataclass_fields__)
