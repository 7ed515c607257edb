"""The scripted responder both fakes share: reply choice, text or speech, pacing and cancel."""

from __future__ import annotations

import asyncio

import pytest

from voicewire.testing import AudioReply, Script, TextReply, ToolCallReply
from voicewire.testing.responder import (
    ResponseRun,
    answers_in_text,
    choose_reply,
    speech_chunks,
    stream_speech,
    stream_text,
)

pytestmark = pytest.mark.timeout(10)


def test_choose_reply_follows_a_tool_call_then_the_rules() -> None:
    script = Script().on("weather", ToolCallReply("w", then=TextReply("sunny")))
    call = script.rules[0][1]
    assert isinstance(call, ToolCallReply)
    calls = {"call_1": call}
    assert choose_reply(script, calls, tool_output_call_id=None, user_text="Weather?") is call
    assert choose_reply(script, calls, tool_output_call_id="call_1", user_text="weather") == (
        TextReply("sunny")
    )
    assert choose_reply(script, calls, tool_output_call_id="other", user_text="weather") == (
        script.default
    )
    assert choose_reply(script, calls, tool_output_call_id=None, user_text=None) == script.default


def test_text_or_speech() -> None:
    speech = AudioReply("hi")
    assert answers_in_text(TextReply("hi"), ["audio"])
    assert answers_in_text(speech, ["text"])
    assert not answers_in_text(speech, ["audio", "text"])
    assert not answers_in_text(speech, None)
    assert not answers_in_text(speech, [])  # no modalities: the default, audio
    assert not answers_in_text(ToolCallReply("w"), ["text"])


def test_speech_chunks_cut_the_tone_in_the_output_format() -> None:
    reply = AudioReply("hi", duration_ms=100, chunk_ms=20)
    chunks = speech_chunks(reply, 8000, 1, lambda pcm: pcm[::2])
    assert [len(c) for c in chunks] == [160] * 5


async def test_speech_spreads_the_words_over_the_chunks() -> None:
    sent: list[str] = []

    async def say(word: str) -> None:
        sent.append(f"w{word.strip()}")

    async def play(chunk: bytes) -> None:
        sent.append(f"c{chunk.decode()}")

    run = ResponseRun("resp_1")
    said = await stream_speech(run, [b"1", b"2", b"3", b"4"], "a b", 0.0, say=say, play=play)
    assert said == "a b"
    assert sent == ["wa", "c1", "c2", "wb", "c3", "c4"]


async def test_a_cancel_stops_between_deltas_and_drops_the_words_left() -> None:
    sent: list[str] = []
    run = ResponseRun("resp_1")

    async def say(word: str) -> None:
        sent.append(word.strip())

    async def play(chunk: bytes) -> None:
        sent.append(chunk.decode())
        if chunk == b"2":
            assert run.cancel("turn_detected")

    said = await stream_speech(run, [b"1", b"2", b"3"], "a b c", 0.0, say=say, play=play)
    assert said == "a b"
    assert sent == ["a", "1", "b", "2"]
    assert run.cancelled and run.reason == "turn_detected"
    assert not run.cancel("client_cancelled")
    assert run.reason == "turn_detected"


async def test_a_paced_text_wakes_on_cancel() -> None:
    run = ResponseRun("resp_1")
    first = asyncio.Event()

    async def say(word: str) -> None:
        first.set()

    task = asyncio.create_task(stream_text(run, "one two three", 5.0, say))
    await first.wait()
    run.cancel("client_cancelled")
    assert await task == "one"
