"""The client codec: every neutral client event as Gemini frames (each strictly valid against
google-genai's types, camelCase), resampling to 16 kHz, and the acknowledgements the session's
ledger needs."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from voicewire.audio import AudioConverter, pcm16_to_ulaw
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
    SessionUpdated,
    TextPart,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    TurnDetection,
    user_text,
)
from voicewire.providers.gemini.client_codec import Encoded, GeminiClientCodec
from voicewire.providers.gemini.turns import TurnState

from .support import strict_client

MODEL_25 = "gemini-2.5-flash-native-audio-preview-12-2025"
MODEL_31 = "gemini-3.1-flash-live-preview"
MANUAL = SessionConfig(
    turn_detection=TurnDetection("manual"), input_audio_format=AudioFormat.pcm16(16000)
)


def codec(config: SessionConfig | None = None, model: str = MODEL_25) -> GeminiClientCodec:
    return GeminiClientCodec(model, config, TurnState())


def frames(encoded: Encoded | None) -> list[dict[str, Any]]:
    assert encoded is not None
    return [strict_client(frame) for frame in encoded.frames]


def audio_of(frame: dict[str, Any]) -> bytes:
    blob = frame["realtimeInput"]["audio"]
    assert blob["mimeType"] == "audio/pcm;rate=16000"
    return base64.b64decode(blob["data"])


def tone(rate: int, ms: int) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


def test_audio_at_16k_passes_untouched() -> None:
    chunk = tone(16000, 20)
    out = frames(
        codec(SessionConfig(input_audio_format=AudioFormat.pcm16(16000))).encode(
            AudioInputAppend(chunk)
        )
    )
    assert len(out) == 1 and audio_of(out[0]) == chunk


@pytest.mark.parametrize(
    "fmt",
    [
        AudioFormat.pcm16(24000),
        AudioFormat.pcm16(48000),
        AudioFormat.pcmu(),
        AudioFormat.pcm16(8000),
    ],
    ids=["pcm24k", "pcm48k", "ulaw8k", "pcm8k"],
)
def test_other_formats_are_resampled_to_16k_as_one_stream(fmt: AudioFormat) -> None:
    """Chunked conversion equals one-shot conversion: the resampler keeps state per connection."""
    pcm = tone(fmt.sample_rate, 1000)
    audio = pcm16_to_ulaw(pcm) if fmt.encoding == "pcmu" else pcm
    encoder = codec(SessionConfig(input_audio_format=fmt))
    step = fmt.bytes_per_second // 50 + 1  # 20 ms and a byte: chunks cut inside samples
    sent = b"".join(
        audio_of(frame)
        for start in range(0, len(audio), step)
        for frame in frames(encoder.encode(AudioInputAppend(audio[start : start + step])))
    )
    whole = AudioConverter(fmt, AudioFormat.pcm16(16000)).convert(audio)
    assert sent == whole
    assert 32000 - 3200 <= len(sent) <= 32000  # a second at 16 kHz, less the filter delay


def test_default_input_format_is_the_sessions_24k() -> None:
    """A config without an input format gets what the session then sends: 24 kHz PCM16."""
    second = tone(24000, 1000)
    sent = b"".join(audio_of(f) for f in frames(codec().encode(AudioInputAppend(second))))
    assert sent == AudioConverter(AudioFormat.pcm16(24000), AudioFormat.pcm16(16000)).convert(
        second
    )
    assert 32000 - 3200 <= len(sent) <= 32000


def test_commit_under_voice_detection_ends_the_audio_stream() -> None:
    encoder = codec()
    assert frames(encoder.encode(AudioInputCommit())) == [
        {"realtimeInput": {"audioStreamEnd": True}}
    ]
    assert not encoder.turns.answer_pending  # voice detection decides whether to answer
    assert encoder.encode(ActivityStart()) is None  # refused by Gemini while it detects
    assert encoder.encode(ActivityEnd()) is None


def test_manual_turns_open_an_activity_before_audio_and_commit_ends_it() -> None:
    encoder = codec(MANUAL)
    first = frames(encoder.encode(AudioInputAppend(tone(16000, 20))))
    assert first[0] == {"realtimeInput": {"activityStart": {}}}
    assert "audio" in first[1]["realtimeInput"]
    again = frames(encoder.encode(AudioInputAppend(tone(16000, 20))))
    assert len(again) == 1  # the activity is open already
    assert frames(encoder.encode(AudioInputCommit())) == [{"realtimeInput": {"activityEnd": {}}}]
    assert encoder.turns.user_turn_ended and encoder.turns.answer_pending
    # The session's response.create after a manual commit: Gemini answers by itself.
    assert frames(encoder.encode(ResponseCreate())) == []
    assert frames(encoder.encode(AudioInputCommit())) == []  # nothing open: nothing to end


def test_activity_signals_under_manual_turns() -> None:
    encoder = codec(MANUAL)
    assert frames(encoder.encode(ActivityStart())) == [{"realtimeInput": {"activityStart": {}}}]
    assert frames(encoder.encode(ActivityEnd())) == [{"realtimeInput": {"activityEnd": {}}}]


def test_user_text_on_25_is_a_turn_and_response_create_completes_it() -> None:
    encoder = codec()
    encoded = encoder.encode(ItemCreate(user_text("What time is it?", "item_1")))
    assert frames(encoded) == [
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "What time is it?"}]}],
                "turnComplete": False,
            }
        }
    ]
    assert encoded is not None and encoded.acks == [
        ItemCreated(user_text("What time is it?", "item_1"), None)
    ]
    assert frames(encoder.encode(ResponseCreate())) == [{"clientContent": {"turnComplete": True}}]
    assert frames(encoder.encode(ResponseCreate())) == []  # the same answer, not a second one


def test_items_without_ids_get_ids_and_follow_each_other() -> None:
    encoder = codec()
    first = encoder.encode(ItemCreate(user_text("one")))
    second = encoder.encode(ItemCreate(MessageItem(None, "assistant", (TextPart("two"),))))
    assert first is not None and second is not None
    a, b = first.acks[0], second.acks[0]
    assert isinstance(a, ItemCreated) and isinstance(b, ItemCreated)
    assert a.item.id and b.item.id and a.item.id != b.item.id
    assert b.previous_item_id == a.item.id
    assert frames(second)[0]["clientContent"]["turns"][0]["role"] == "model"


def test_replayed_history_on_25_triggers_no_answer() -> None:
    encoder = codec()
    items = [
        user_text("weather in Paris?", "u1"),
        ToolCallItem("c1", "call_1", "get_weather", '{"city": "Paris"}'),
        ToolResultItem("r1", "call_1", '{"temp": 21}'),
        MessageItem("a1", "assistant", (AudioPart(transcript="It is 21 degrees."),)),
        MessageItem("s1", "system", (TextPart("Speak French from now on."),)),
    ]
    sent = [frames(encoder.encode(ItemCreate(item)))[0]["clientContent"] for item in items]
    assert all(content["turnComplete"] is False for content in sent)
    assert sent[1]["turns"][0] == {
        "role": "model",
        "parts": [
            {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}}
        ],
    }
    assert sent[2]["turns"][0] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"temp": 21}}}
        ],
    }
    assert sent[3]["turns"][0] == {"role": "model", "parts": [{"text": "It is 21 degrees."}]}
    assert sent[4]["turns"][0]["role"] == "user"


def test_items_with_nothing_to_say_are_refused() -> None:
    assert codec().encode(ItemCreate(MessageItem("x", "user", (AudioPart(audio=b"\0\0"),)))) is None


def test_31_takes_user_text_as_realtime_text_and_answers_it() -> None:
    encoder = codec(model=MODEL_31)
    encoded = encoder.encode(ItemCreate(user_text("hello", "u1")))
    assert frames(encoded) == [{"realtimeInput": {"text": "hello"}}]
    assert frames(encoder.encode(ResponseCreate())) == []  # answered already
    assert frames(encoder.encode(ResponseCreate())) == [{"realtimeInput": {"text": " "}}]
    assert encoder.encode(ItemCreate(MessageItem("a", "assistant", (TextPart("hi"),)))) is None


@pytest.mark.parametrize(
    ("output", "is_error", "response"),
    [
        ('{"temp": 21}', False, {"temp": 21}),
        ("21", False, {"output": 21}),
        ('["a", "b"]', False, {"output": ["a", "b"]}),
        ("sunny", False, {"output": "sunny"}),
        ('"sunny"', False, {"output": "sunny"}),
        ("city not found", True, {"error": "city not found"}),
        ('{"error": "timeout"}', True, {"error": {"error": "timeout"}}),
    ],
)
def test_tool_results_are_always_json_objects(
    output: str, is_error: bool, response: dict[str, Any]
) -> None:
    encoder = codec()
    encoded = encoder.encode(ToolResult("call_1", output, "get_weather", is_error))
    assert frames(encoded) == [
        {
            "toolResponse": {
                "functionResponses": [{"id": "call_1", "name": "get_weather", "response": response}]
            }
        }
    ]
    assert encoded is not None
    ack = encoded.acks[0]
    assert isinstance(ack, ItemCreated) and isinstance(ack.item, ToolResultItem)
    assert ack.item.call_id == "call_1" and ack.item.output == output
    assert frames(encoder.encode(ResponseCreate())) == []  # the model goes on by itself


def test_tool_result_without_name_takes_the_calls_name() -> None:
    encoder = codec()
    encoder.turns.call_names["call_9"] = "lookup"
    sent = frames(encoder.encode(ToolResult("call_9", "{}")))
    assert sent[0]["toolResponse"]["functionResponses"][0]["name"] == "lookup"


@pytest.mark.parametrize(
    "event",
    [AudioInputClear(), ItemDelete("x"), ItemTruncate("x", 10), ResponseCancel()],
    ids=lambda e: e.kind,
)
def test_events_gemini_cannot_express_encode_to_none(event: ClientEvent) -> None:
    assert codec().encode(event) is None


def test_session_update_is_acknowledged_only_when_nothing_changes() -> None:
    config = SessionConfig(instructions="a")
    encoder = codec(config)
    same = encoder.encode(SessionUpdate(config))
    assert same is not None and same.frames == [] and same.acks == [SessionUpdated()]
    assert encoder.encode(SessionUpdate(SessionConfig(instructions="b"))) is None


def test_frames_are_plain_json() -> None:
    encoded = codec().encode(ItemCreate(user_text("é ✓", "u")))
    assert encoded is not None
    assert json.loads(json.dumps(encoded.frames)) == encoded.frames


def test_a_result_for_a_call_gemini_cancelled_is_not_sent() -> None:
    encoder = codec()
    encoder.turns.withdrawn.add("call_1")
    encoded = encoder.encode(ToolResult("call_1", "late", "lookup"))
    assert encoded is not None and encoded.frames == []
    ack = encoded.acks[0]
    assert isinstance(ack, ItemCreated) and isinstance(ack.item, ToolResultItem)
    assert ack.item.call_id == "call_1"  # the session's ledger is answered all the same
    assert not encoder.turns.answer_pending and not encoder.turns.withdrawn
    assert frames(encoder.encode(ToolResult("call_2", "{}", "lookup")))  # others still go
