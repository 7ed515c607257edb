"""The xAI Grok Voice Agent codec: the OpenAI GA conformance plus xAI's documented differences
(``tests/openai_wire/data/xai_voice_agent_events.json``).

xAI publishes no typed schema, so client messages are validated against the official OpenAI GA
models after undoing the documented differences: ``voice`` and ``turn_detection`` move from the
top of the session back to ``audio.output.voice`` / ``audio.input.turn_detection`` and
``session.type = "realtime"`` is added. Everything else in the session must then validate
strictly, exactly as for OpenAI — so no key leaks through that neither provider defines.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.openai_wire.examples import CLIENT_EXAMPLES, FULL_G711, FULL_PCM, MANUAL
from tests.openai_wire.support import (
    ITEM_ID,
    RESPONSE_ID,
    load_spec,
    openai_server_types,
    server_payload,
    validate_client_event,
)
from voicewire.protocol import (
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    ConfigurationError,
    ItemDelete,
    ItemDeleted,
    ItemTruncate,
    SessionConfig,
    SessionCreated,
    SessionUpdate,
    TextOutput,
    TextOutputDelta,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutputDelta,
    TurnDetection,
    VoiceConfig,
)
from voicewire.providers.openai import codec as openai_codec
from voicewire.providers.openai_protocol.codec import IGNORED_SERVER_TYPES, OpenAIProtocolCodec
from voicewire.providers.openai_protocol.dialect import XAI
from voicewire.providers.xai import codec as xai_codec

XAI_SPEC = load_spec("xai_voice_agent_events.json")


def as_openai_session(session: dict[str, Any]) -> dict[str, Any]:
    """Undo xAI's documented session differences, giving the OpenAI GA shape."""
    session = copy.deepcopy(session)
    assert "type" not in session, "xAI sessions carry no session.type"
    openai_shape: dict[str, Any] = {"type": "realtime", **session}
    if "voice" in openai_shape:
        output = openai_shape.setdefault("audio", {}).setdefault("output", {})
        output["voice"] = openai_shape.pop("voice")
    if "turn_detection" in openai_shape:
        audio_input = openai_shape.setdefault("audio", {}).setdefault("input", {})
        audio_input["turn_detection"] = openai_shape.pop("turn_detection")
    return openai_shape


# --- client events ----------------------------------------------------------------------------


def test_unsupported_client_events_follow_the_spec() -> None:
    unsupported = set(XAI_SPEC["client_to_server_openai_but_unsupported_per_docs_summary"])
    assert "conversation.item.truncate" in unsupported
    assert XAI.unsupported_client_events == {"activity.start", "activity.end", "item.truncate"}
    assert xai_codec.encode_client(ItemTruncate("item_1", 500)) is None
    assert xai_codec.encode_client(ActivityStart()) is None
    assert xai_codec.encode_client(ActivityEnd()) is None
    # Deleting items is not on xAI's unsupported list and it answers with .deleted.
    assert xai_codec.encode_client(ItemDelete("item_1")) == {
        "type": "conversation.item.delete",
        "item_id": "item_1",
    }


@pytest.mark.parametrize("name", list(CLIENT_EXAMPLES))
def test_encoding_validates_against_openai_models_modulo_documented_differences(
    name: str,
) -> None:
    event = CLIENT_EXAMPLES[name]
    message = xai_codec.encode_client(event)
    if event.kind in XAI.unsupported_client_events:
        assert message is None
        return
    assert message is not None
    if message["type"] == "session.update":
        message = {**message, "session": as_openai_session(message["session"])}
    else:
        # Everything but the session is byte-for-byte the OpenAI GA message.
        assert message == openai_codec.encode_client(event)
    validate_client_event(message)


def test_session_shape_has_top_level_voice_and_turn_detection() -> None:
    session = xai_codec.encode_session(FULL_PCM)
    assert "type" not in session
    assert session["voice"] == "marin"
    assert session["turn_detection"]["type"] == "server_vad"
    assert "voice" not in session["audio"]["output"]
    assert session["audio"]["output"]["speed"] == 1.2
    assert "turn_detection" not in session["audio"]["input"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert as_openai_session(session) == openai_codec.encode_session(FULL_PCM)
    assert as_openai_session(xai_codec.encode_session(FULL_G711)) == openai_codec.encode_session(
        FULL_G711
    )


def test_manual_turns_send_a_top_level_null() -> None:
    session = xai_codec.encode_session(MANUAL)
    assert "turn_detection" in session
    assert session["turn_detection"] is None


def test_xai_accepts_pcm_rates_from_8_to_48_khz() -> None:
    config = SessionConfig(
        voice=VoiceConfig("ara"),
        input_audio_format=AudioFormat.pcm16(16000),
        output_audio_format=AudioFormat.pcm16(48000),
        turn_detection=TurnDetection(silence_duration_ms=700),
    )
    assert xai_codec.encode_session(config) == {
        "voice": "ara",
        "turn_detection": {
            "type": "server_vad",
            "silence_duration_ms": 700,
            "create_response": True,
            "interrupt_response": True,
        },
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 16000}},
            "output": {"format": {"type": "audio/pcm", "rate": 48000}},
        },
        "tools": [],
    }
    with pytest.raises(ConfigurationError, match="8000-48000 Hz"):
        xai_codec.encode_client(
            SessionUpdate(SessionConfig(input_audio_format=AudioFormat.pcm16(96000)))
        )
    with pytest.raises(ConfigurationError, match="24000 Hz"):
        openai_codec.encode_client(SessionUpdate(config))


# --- server events ----------------------------------------------------------------------------


def xai_payload(type_: str, **overrides: Any) -> dict[str, Any]:
    """An xAI server message: the GA payload, under xAI's name where it differs."""
    ga_names = {
        "response.text.delta": "response.output_text.delta",
        "response.text.done": "response.output_text.done",
    }
    payload = server_payload(ga_names.get(type_, type_), **overrides)
    payload["type"] = type_
    return payload


def test_every_documented_xai_server_type_is_known_and_decodes() -> None:
    documented = (
        XAI_SPEC["server_to_client_documented"]
        + XAI_SPEC["server_to_client_seen_in_clients_not_in_docs_list"]
    )
    for type_ in documented:
        assert xai_codec.is_known(type_), type_
        xai_codec.decode_server(xai_payload(type_))  # never raises on a well-formed payload


def test_every_openai_type_is_decoded_or_ignored_by_xai_too() -> None:
    codec = xai_codec.CODEC
    spec = set(openai_server_types())
    assert spec <= codec.handled_types | codec.ignored_types
    assert not codec.handled_types & codec.ignored_types
    assert codec.ignored_types == IGNORED_SERVER_TYPES - {"conversation.created"}
    extras = codec.handled_types - spec
    assert extras == {
        "response.text.delta",
        "response.text.done",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.delta",
        "response.audio_transcript.done",
        "conversation.item.input_audio_transcription.updated",
    }


def test_session_opens_with_conversation_created() -> None:
    assert xai_codec.decode_server(xai_payload("conversation.created")) == [
        SessionCreated("conv_C9x")
    ]
    assert xai_codec.decode_server(xai_payload("session.created")) == [SessionCreated("sess_C9x")]
    # OpenAI opens with session.created and ignores conversation.created.
    assert openai_codec.decode_server(server_payload("conversation.created")) == []


def test_text_output_uses_response_text_names() -> None:
    assert xai_codec.decode_server(xai_payload("response.text.delta")) == [
        TextOutputDelta(RESPONSE_ID, ITEM_ID, "Sunny")
    ]
    assert xai_codec.decode_server(xai_payload("response.text.done")) == [
        TextOutput(RESPONSE_ID, ITEM_ID, "Sunny and mild.")
    ]
    # The GA spelling is accepted too (public xAI clients handle both).
    assert xai_codec.decode_server(server_payload("response.output_text.delta")) == [
        TextOutputDelta(RESPONSE_ID, ITEM_ID, "Sunny")
    ]
    beta = xai_payload("response.output_audio_transcript.delta")
    beta["type"] = "response.audio_transcript.delta"
    assert xai_codec.decode_server(beta) == [TranscriptOutputDelta(RESPONSE_ID, ITEM_ID, "It is")]


def _transcription(transcript: str, status: str | None, item_id: str = "item_u9") -> dict[str, Any]:
    payload = server_payload(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        transcript=transcript,
    )
    if status is not None:
        payload["status"] = status  # xAI's addition; not in the OpenAI model
    return payload


def test_cumulative_partial_transcripts_become_deltas() -> None:
    codec = OpenAIProtocolCodec(XAI)
    decode = codec.decode_server
    assert decode(_transcription("What's", "in_progress")) == [
        TranscriptInputDelta("item_u9", "What's")
    ]
    assert decode(_transcription("What's", "in_progress")) == []  # nothing new
    assert decode(_transcription("What's the wea", "in_progress")) == [
        TranscriptInputDelta("item_u9", " the wea")
    ]
    updated = {
        "type": "conversation.item.input_audio_transcription.updated",
        "event_id": "event_9",
        "item_id": "item_u9",
        "transcript": "What's the weather",
    }
    assert decode(updated) == [TranscriptInputDelta("item_u9", "ther")]
    assert decode(_transcription("What's the weather?", "completed")) == [
        TranscriptInput("item_u9", "What's the weather?")
    ]
    # The item is finished: a later partial for a new item starts from scratch.
    assert decode(_transcription("Hi", "in_progress", "item_u10")) == [
        TranscriptInputDelta("item_u10", "Hi")
    ]
    assert decode(_transcription("Hi there", None, "item_u10")) == [
        TranscriptInput("item_u10", "Hi there")
    ]


def test_a_rewritten_partial_waits_for_the_final_transcript() -> None:
    decode = OpenAIProtocolCodec(XAI).decode_server
    assert decode(_transcription("Call Anna", "in_progress")) == [
        TranscriptInputDelta("item_u9", "Call Anna")
    ]
    assert decode(_transcription("Call Hannah", "in_progress")) == []  # not an extension
    assert decode(_transcription("Call Hannah now", "in_progress")) == []
    assert decode(_transcription("Call Hannah now.", "completed")) == [
        TranscriptInput("item_u9", "Call Hannah now.")
    ]


def test_partial_transcript_memory_is_bounded() -> None:
    codec = OpenAIProtocolCodec(XAI)
    for n in range(1000):
        codec.decode_server(_transcription("partial", "in_progress", f"item_{n}"))
    assert len(codec._partials) <= 256


def test_deleted_item_may_carry_an_empty_id() -> None:
    payload = xai_payload("conversation.item.deleted", item_id="")
    assert xai_codec.decode_server(payload) == [ItemDeleted("")]


def test_previous_item_id_may_be_null() -> None:
    payload = xai_payload("conversation.item.added", previous_item_id=None)
    (event,) = xai_codec.decode_server(payload)
    assert event.kind == "item.created"
    assert event.previous_item_id is None
