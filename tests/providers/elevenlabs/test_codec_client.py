"""The ElevenLabs codec writing neutral client events: each message it can write validates
strictly against the AsyncAPI (no unknown keys), audio is converted to the agent's announced
format, and what ElevenLabs cannot take is ``None`` (the connection raises)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from voicewire.protocol import (
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    AudioPart,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemTruncate,
    MessageItem,
    ResponseCancel,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    TextPart,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    user_text,
)
from voicewire.providers.elevenlabs import ElevenLabsCodec

from .support import encode, events, metadata


def tone(rate: int, ms: int) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


def chunk_of(message: dict[str, object]) -> bytes:
    assert set(message) == {"user_audio_chunk"}
    return base64.b64decode(str(message["user_audio_chunk"]))


def test_audio_goes_in_the_announced_pcm_rate() -> None:
    codec = ElevenLabsCodec(SessionConfig(input_audio_format=AudioFormat.pcm16(24000)))
    events(codec, metadata(input_format="pcm_16000"))
    sent = b"".join(chunk_of(encode(codec, AudioInputAppend(tone(24000, 20)))) for _ in range(50))
    # One second of 24 kHz audio becomes about one second at 16 kHz (the resampler holds a tail).
    assert 31000 <= len(sent) <= 32000


def test_audio_goes_as_ulaw_8000_when_the_agent_takes_telephony_audio() -> None:
    codec = ElevenLabsCodec(SessionConfig(input_audio_format=AudioFormat.pcm16(16000)))
    events(codec, metadata(input_format="ulaw_8000"))
    sent = b"".join(chunk_of(encode(codec, AudioInputAppend(tone(16000, 20)))) for _ in range(50))
    assert 7400 <= len(sent) <= 8000  # one byte per sample at 8 kHz (less the filter delay)
    assert len(set(sent)) > 10  # a tone, not silence


def test_audio_already_in_the_agents_format_passes_untouched() -> None:
    codec = ElevenLabsCodec(SessionConfig(input_audio_format=AudioFormat.pcmu()))
    events(codec, metadata(input_format="ulaw_8000"))
    assert chunk_of(encode(codec, AudioInputAppend(b"\x7f\x80" * 80))) == b"\x7f\x80" * 80


def test_agent_audio_is_converted_to_the_apps_format() -> None:
    from voicewire.protocol import AudioOutputDelta

    from .support import audio

    codec = ElevenLabsCodec(SessionConfig(output_audio_format=AudioFormat.pcm16(24000)))
    events(codec, metadata(output_format="pcm_44100"))
    heard = b""
    for _ in range(50):
        heard += b"".join(
            e.audio
            for e in events(codec, audio(1, tone(44100, 20)))
            if isinstance(e, AudioOutputDelta)
        )
    heard += b"".join(
        e.audio
        for e in events(
            codec,
            {
                "type": "user_transcript",
                "user_transcription_event": {"user_transcript": "x", "event_id": 2},
            },
        )
        if isinstance(e, AudioOutputDelta)
    )
    assert abs(len(heard) - 48000) <= 96  # one second at 24 kHz, the resampler's tail included


def test_typed_user_text_is_a_user_message() -> None:
    codec = ElevenLabsCodec()
    assert encode(codec, ItemCreate(user_text("Hello?"))) == {
        "type": "user_message",
        "text": "Hello?",
    }


def test_system_text_is_a_contextual_update() -> None:
    codec = ElevenLabsCodec()
    item = MessageItem("item_s", "system", (TextPart("The user is on the pricing page."),))
    assert encode(codec, ItemCreate(item)) == {
        "type": "contextual_update",
        "text": "The user is on the pricing page.",
    }


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (MessageItem("i1", "user", (TextPart("Hi."),), "completed"), "the user said: Hi."),
        (
            MessageItem("i2", "assistant", (TextPart("Hello!"),), "completed"),
            "you (the agent) said: Hello!",
        ),
        (ToolCallItem("i3", "c1", "get_time", "{}", "completed"), "called the tool get_time"),
        (
            ToolResultItem("i4", "c1", '"noon"', "get_time"),
            'the tool get_time (call c1) returned: "noon"',
        ),
    ],
    ids=["user", "assistant", "tool_call", "tool_result"],
)
def test_a_replayed_record_is_context_not_a_new_turn(item: object, words: str) -> None:
    message = encode(ElevenLabsCodec(), ItemCreate(item))  # type: ignore[arg-type]
    assert message["type"] == "contextual_update" and words in str(message["text"])


@pytest.mark.parametrize("is_error", [False, True])
def test_a_tool_result_is_a_string_with_its_error_flag(is_error: bool) -> None:
    message = encode(ElevenLabsCodec(), ToolResult("call_1", '{"temp": 21}', "weather", is_error))
    assert message == {
        "type": "client_tool_result",
        "tool_call_id": "call_1",
        "result": '{"temp": 21}',
        "is_error": is_error,
    }


UNSUPPORTED: list[ClientEvent] = [
    SessionUpdate(SessionConfig(instructions="x")),
    ItemDelete("item_1"),
    ItemTruncate("item_1", 100),
    AudioInputCommit(),
    AudioInputClear(),
    ActivityStart(),
    ActivityEnd(),
    ResponseCreate(),
    ResponseCancel(),
    ItemCreate(MessageItem("i", "user", (AudioPart(audio=b"\x00\x00"),))),
]


@pytest.mark.parametrize("event", UNSUPPORTED, ids=lambda e: e.kind)
def test_what_elevenlabs_cannot_take_encodes_to_none(event: ClientEvent) -> None:
    assert ElevenLabsCodec().encode_client(event) is None


def test_written_items_and_results_are_acknowledged_under_their_ids() -> None:
    codec = ElevenLabsCodec()
    [typed] = codec.written(ItemCreate(user_text("Hi", "item_a")))
    [result] = codec.written(ToolResult("call_9", "ok", "f"))
    [anonymous] = codec.written(ItemCreate(user_text("No id")))
    assert isinstance(typed, ItemCreated) and typed.item.id == "item_a"
    assert isinstance(result, ItemCreated) and isinstance(result.item, ToolResultItem)
    assert (result.item.call_id, result.item.output, result.previous_item_id) == (
        "call_9",
        "ok",
        "item_a",
    )
    assert isinstance(anonymous, ItemCreated) and anonymous.item.id
    assert codec.written(AudioInputAppend(b"\x00\x00")) == []


def test_a_telephony_agents_ulaw_is_decoded_to_the_apps_pcm() -> None:
    from voicewire.audio import pcm16_to_ulaw
    from voicewire.protocol import AudioOutputDelta

    from .support import audio

    codec = ElevenLabsCodec(SessionConfig(output_audio_format=AudioFormat.pcm16(8000)))
    events(codec, metadata(output_format="ulaw_8000"))
    wire = pcm16_to_ulaw(tone(8000, 100))
    [*_, delta] = events(codec, audio(1, wire))
    assert isinstance(delta, AudioOutputDelta)
    assert len(delta.audio) == 2 * len(wire)  # same rate: one µ-law byte, one PCM16 sample
    heard = np.frombuffer(delta.audio, "<i2")
    assert 6000 < np.abs(heard).max() < 8500  # the tone, not noise


def test_a_conversation_without_audio_for_a_while_sends_a_little_silence() -> None:
    """A muted session sends no audio, and ElevenLabs ends a conversation that hears nothing
    from its client for 60 s: after SILENCE_EVERY_S a chunk of silence keeps it alive."""
    from voicewire.protocol import user_text
    from voicewire.protocol.events import ItemCreate
    from voicewire.providers.elevenlabs.codec import SILENCE_EVERY_S
    from voicewire.testing.elevenlabs_validation import validate_elevenlabs_client

    now = [100.0]
    codec = ElevenLabsCodec(
        SessionConfig(input_audio_format=AudioFormat.pcmu()), clock=lambda: now[0]
    )
    events(codec, metadata(input_format="ulaw_8000"))
    encode(codec, ItemCreate(user_text("Hi")))
    assert codec.send_idle_after() is None  # a text conversation: nothing to keep up
    encode(codec, AudioInputAppend(b"\x7f" * 160))
    assert codec.send_idle_after() == SILENCE_EVERY_S
    now[0] += SILENCE_EVERY_S - 1
    assert codec.send_idle() == []
    now[0] += 1
    [kept] = codec.send_idle()
    assert validate_elevenlabs_client(kept) == []
    assert chunk_of(kept) == b"\xff" * 800  # 100 ms of µ-law silence, in the agent's format
    assert codec.send_idle_after() == SILENCE_EVERY_S  # and again later
