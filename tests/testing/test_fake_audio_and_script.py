"""Unit tests of the fake server's test audio, scripts and validators (no sockets)."""

from __future__ import annotations

import numpy as np
import pytest

from voicewire.testing import (
    AudioReply,
    Script,
    TextReply,
    ToolCallReply,
    openai_available,
    rms,
    silence,
    tone,
    validate_client_event,
)
from voicewire.testing.tones import (
    alaw_to_pcm16,
    decode_audio,
    encode_audio,
    format_rate,
    mulaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_mulaw,
)


def test_tone_is_deterministic_and_loud_enough() -> None:
    assert tone(100) == tone(100)
    assert len(tone(100)) == 24000 * 2 // 10
    assert len(tone(20, sample_rate=8000)) == 320
    assert rms(tone(100)) == pytest.approx(0.3 / np.sqrt(2), rel=0.01)
    assert rms(silence(100)) == 0.0
    assert rms(b"") == 0.0


@pytest.mark.parametrize(
    ("encode", "decode"), [(pcm16_to_mulaw, mulaw_to_pcm16), (pcm16_to_alaw, alaw_to_pcm16)]
)
def test_g711_round_trip_is_close(encode: object, decode: object) -> None:
    assert callable(encode) and callable(decode)
    pcm = tone(50, sample_rate=8000, amplitude=0.8)
    coded = encode(pcm)
    assert len(coded) == len(pcm) // 2
    back = np.frombuffer(decode(coded), dtype="<i2").astype(np.float64)
    original = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert np.max(np.abs(back - original)) < 0.04 * 32768  # G.711 steps are at most ~3 %
    extremes = np.array([-32768, -1, 0, 1, 32767], dtype="<i2").tobytes()
    decoded = np.frombuffer(decode(encode(extremes)), dtype="<i2")
    assert decoded[0] < -30000 and decoded[-1] > 30000 and abs(int(decoded[2])) <= 16


def test_wire_format_helpers() -> None:
    assert format_rate(None) == 24000
    assert format_rate({"type": "audio/pcmu"}) == 8000
    assert format_rate({"type": "audio/pcm", "rate": 16000}) == 16000
    pcm = tone(10, sample_rate=8000)
    assert encode_audio(pcm, {"type": "audio/pcm"}) == pcm
    assert decode_audio(pcm + b"\x01", {"type": "audio/pcm"}) == pcm
    assert len(
        decode_audio(encode_audio(pcm, {"type": "audio/pcma"}), {"type": "audio/pcma"})
    ) == len(pcm)


def test_script_rules_are_case_insensitive_and_ordered() -> None:
    script = Script()
    first, second = TextReply("first"), TextReply("second")
    script.on("Weather", first).on("weather in paris", second)
    assert script.choose("what's the WEATHER in Paris") is first
    assert script.choose("nothing") is script.default
    assert script.choose(None) is script.default
    script.input_transcript = "fallback"
    script.hear("one", "two")
    assert [script.next_transcript() for _ in range(3)] == ["one", "two", "fallback"]


def test_reply_arguments_and_bounds() -> None:
    assert ToolCallReply("f", {"a": 1}).arguments_json == '{"a":1}'
    assert ToolCallReply("f", '{"raw": true}').arguments_json == '{"raw": true}'
    with pytest.raises(ValueError):
        AudioReply("x", duration_ms=0)
    with pytest.raises(ValueError):
        AudioReply("x", pace=-1)
    with pytest.raises(ValueError):
        Script().on("", TextReply("x"))


@pytest.mark.skipif(not openai_available(), reason="openai is not installed")
def test_client_validation_is_strict_and_knows_the_xai_dialect() -> None:
    update = {"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}}
    assert validate_client_event(update) == []
    assert validate_client_event({**update, "colour": "red"}) == ["colour: unknown key"]
    xai = {
        "type": "session.update",
        "session": {
            "voice": "ara",
            "turn_detection": {"type": "server_vad"},
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
        },
    }
    assert validate_client_event(xai, "xai") == []
    problems = validate_client_event(xai, "openai")
    assert "session.type: missing required key" in problems
    assert "session.voice: unknown key" not in problems  # only reported once the shape is valid
    assert validate_client_event({"type": "nope"}) == ["unknown event type 'nope'"]
