"""Benchmark: decoding an OpenAI Realtime GA server stream, voicewire's codec against pydantic.

The peer is what other realtime SDKs do per server event: validation with
``TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])`` from the official
``openai`` package. Both sides run in the same process on the same messages, and each line
compares like with like:

- ``dicts``: already-parsed messages; ``decode_server`` against ``validate_python``.
- ``JSON text, as the OpenAI Agents SDK does``: WebSocket text frames; voicewire's
  ``decode_server_text`` against ``json.loads`` + ``validate_python``, which is what the Agents
  SDK's ``OpenAIRealtimeWebSocketModel`` does with each frame.
- ``JSON text vs pydantic validate_json``: the same frames; ``decode_server_text`` against
  pydantic's own JSON entry point, the fastest way to use the peer.

Each figure is the best of several runs, timed with ``time.perf_counter`` with the garbage
collector paused, as ``timeit`` does; the two sides alternate run by run.

The stream is a realistic spoken conversation: per turn the user speaks (VAD, commit, item,
transcription), then the assistant answers with ~3 s of audio in 20 ms chunks (24 kHz PCM16:
960 bytes, 1280 base64 characters each) interleaved with transcript deltas and the full response
and item lifecycle; every fourth turn calls a tool first. About 80% of events are audio deltas.

Run: ``python benchmarks/codec.py [--events N] [--runs R]``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

Message = dict[str, Any]


class _Ids:
    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def __call__(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}_{n:06d}Cx9kQ2"


def _usage(rng: random.Random) -> Message:
    audio_in, text_in, audio_out, text_out = (rng.randint(20, 900) for _ in range(4))
    cached = rng.randint(0, audio_in + text_in)
    return {
        "input_tokens": audio_in + text_in,
        "output_tokens": audio_out + text_out,
        "total_tokens": audio_in + text_in + audio_out + text_out,
        "input_token_details": {
            "audio_tokens": audio_in,
            "text_tokens": text_in,
            "cached_tokens": cached,
            "image_tokens": 0,
            "cached_tokens_details": {"audio_tokens": cached, "text_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"audio_tokens": audio_out, "text_tokens": text_out},
    }


def _response(
    response_id: str, status: str, output: list[Message], usage: Message | None
) -> Message:
    response: Message = {
        "id": response_id,
        "object": "realtime.response",
        "status": status,
        "status_details": None if status == "in_progress" else {"type": status},
        "output": output,
        "conversation_id": "conv_benchmark",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        "metadata": None,
    }
    if usage is not None:
        response["usage"] = usage
    return response


_WORDS = (
    *("sure", "let", "me", "check", "that", "for", "you", "the", "weather", "in", "lisbon"),
    *("is", "mild", "today", "with", "a", "light", "breeze", "and", "a", "high", "of"),
    *("twenty", "one", "degrees", "would", "you", "like", "the", "forecast", "for", "tomorrow"),
)


def generate_stream(min_events: int, seed: int = 7) -> list[Message]:
    """Server events of a conversation, as ``json.loads`` would hand them over."""
    rng = random.Random(seed)
    ids = _Ids()
    chunks = [base64.b64encode(rng.randbytes(960)).decode("ascii") for _ in range(64)]
    events: list[Message] = []

    def emit(message: Message) -> None:
        events.append({"event_id": ids("event"), **message})

    emit({"type": "session.created", "session": {"type": "realtime", "id": "sess_benchmark"}})
    turn = 0
    ms = 0
    previous_item: str | None = None
    while len(events) < min_events:
        turn += 1
        user_item = ids("item")
        ms += rng.randint(800, 4000)
        emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": ms,
                "item_id": user_item,
            }
        )
        ms += rng.randint(600, 3000)
        emit(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ms, "item_id": user_item}
        )
        emit(
            {
                "type": "input_audio_buffer.committed",
                "item_id": user_item,
                "previous_item_id": previous_item,
            }
        )
        user_message = {
            "id": user_item,
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        emit(
            {
                "type": "conversation.item.added",
                "previous_item_id": previous_item,
                "item": user_message,
            }
        )
        spoken = rng.sample(_WORDS, 6)
        for word in spoken:
            emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": user_item,
                    "content_index": 0,
                    "delta": word + " ",
                }
            )
        emit(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": user_item,
                "content_index": 0,
                "transcript": " ".join(spoken),
                "usage": {"type": "duration", "seconds": 2.1},
            }
        )
        previous_item = user_item
        if turn % 4 == 0:
            previous_item = _tool_response(emit, ids, rng, previous_item)
        previous_item = _spoken_response(emit, ids, rng, chunks, previous_item)
        emit(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06},
                    {"name": "tokens", "limit": 50000, "remaining": 49000, "reset_seconds": 1.2},
                ],
            }
        )
    return events


def _tool_response(
    emit: Callable[[Message], None], ids: _Ids, rng: random.Random, previous: str | None
) -> str:
    response_id, item_id, call_id = ids("resp"), ids("item"), ids("call")
    emit({"type": "response.created", "response": _response(response_id, "in_progress", [], None)})
    call = {
        "id": item_id,
        "type": "function_call",
        "object": "realtime.item",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": call_id,
        "arguments": "",
    }
    emit(
        {
            "type": "response.output_item.added",
            "response_id": response_id,
            "output_index": 0,
            "item": call,
        }
    )
    emit({"type": "conversation.item.added", "previous_item_id": previous, "item": call})
    arguments = '{"city": "Lisbon", "unit": "celsius"}'
    for start in range(0, len(arguments), 8):
        emit(
            {
                "type": "response.function_call_arguments.delta",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": 0,
                "call_id": call_id,
                "delta": arguments[start : start + 8],
            }
        )
    emit(
        {
            "type": "response.function_call_arguments.done",
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "call_id": call_id,
            "name": "get_weather",
            "arguments": arguments,
        }
    )
    done_call = {**call, "status": "completed", "arguments": arguments}
    emit(
        {
            "type": "response.output_item.done",
            "response_id": response_id,
            "output_index": 0,
            "item": done_call,
        }
    )
    emit({"type": "conversation.item.done", "previous_item_id": previous, "item": done_call})
    emit(
        {
            "type": "response.done",
            "response": _response(response_id, "completed", [done_call], _usage(rng)),
        }
    )
    return item_id


def _spoken_response(
    emit: Callable[[Message], None],
    ids: _Ids,
    rng: random.Random,
    chunks: Sequence[str],
    previous: str | None,
) -> str:
    response_id, item_id = ids("resp"), ids("item")
    emit({"type": "response.created", "response": _response(response_id, "in_progress", [], None)})
    item = {
        "id": item_id,
        "type": "message",
        "object": "realtime.item",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    emit(
        {
            "type": "response.output_item.added",
            "response_id": response_id,
            "output_index": 0,
            "item": item,
        }
    )
    emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
    where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    emit(
        {
            "type": "response.content_part.added",
            **where,
            "part": {"type": "audio", "transcript": ""},
        }
    )
    words: list[str] = []
    for n in range(rng.randint(140, 180)):  # ~3 s of speech in 20 ms chunks
        emit({"type": "response.output_audio.delta", **where, "delta": chunks[n % len(chunks)]})
        if n % 8 == 7:
            word = rng.choice(_WORDS)
            words.append(word)
            emit({"type": "response.output_audio_transcript.delta", **where, "delta": word + " "})
    transcript = " ".join(words)
    emit({"type": "response.output_audio.done", **where})
    emit({"type": "response.output_audio_transcript.done", **where, "transcript": transcript})
    emit(
        {
            "type": "response.content_part.done",
            **where,
            "part": {"type": "audio", "transcript": transcript},
        }
    )
    done_item = {
        **item,
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": transcript}],
    }
    emit(
        {
            "type": "response.output_item.done",
            "response_id": response_id,
            "output_index": 0,
            "item": done_item,
        }
    )
    emit({"type": "conversation.item.done", "previous_item_id": previous, "item": done_item})
    emit(
        {
            "type": "response.done",
            "response": _response(response_id, "completed", [done_item], _usage(rng)),
        }
    )
    return item_id


def best_times(
    ours: Callable[[], object], theirs: Callable[[], object], runs: int
) -> tuple[float, float]:
    """The fastest of ``runs`` timings of each side, with the garbage collector paused.

    The two sides alternate run by run, so a machine whose speed drifts (shared CPUs, frequency
    scaling) slows both alike instead of skewing the ratio.
    """
    best_ours = best_theirs = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            for run, is_ours in ((ours, True), (theirs, False)):
                gc.collect()
                start = time.perf_counter()
                run()
                elapsed = time.perf_counter() - start
                if is_ours:
                    best_ours = min(best_ours, elapsed)
                else:
                    best_theirs = min(best_theirs, elapsed)
    finally:
        if enabled:
            gc.enable()
    return best_ours, best_theirs


def _drain(decode: Callable[[Any], object], items: Iterable[Any]) -> Callable[[], None]:
    def run() -> None:
        for item in items:
            decode(item)

    return run


def _line(label: str, count: int, ours: str, our_time: float, peer: str, peer_time: float) -> str:
    """One comparison of ``count`` events: what each side ran and its best time in seconds."""
    return (
        f"codec decode ({label}): {ours} {count / our_time:,.0f} ev/s"
        f" | {peer} {count / peer_time:,.0f} ev/s | ratio {peer_time / our_time:.1f}x"
    )


def main(argv: Sequence[str] | None = None) -> None:
    from openai.types.realtime import RealtimeServerEvent
    from pydantic import Field, TypeAdapter

    from voicewire.protocol import AudioOutputDelta
    from voicewire.providers.openai.codec import CODEC

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000, help="minimum stream length")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per measurement")
    args = parser.parse_args(argv)

    stream = generate_stream(args.events)
    texts = [json.dumps(message) for message in stream]
    adapter: TypeAdapter[Any] = TypeAdapter(
        Annotated[RealtimeServerEvent, Field(discriminator="type")]
    )
    decode = CODEC.decode_server

    # Both sides must accept the whole stream before their speed means anything.
    audio = sum(1 for m in stream if m["type"] == "response.output_audio.delta")
    decoded = [event for message in stream for event in decode(message)]
    if sum(isinstance(event, AudioOutputDelta) for event in decoded) != audio:
        raise SystemExit("voicewire decoded a different number of audio deltas")
    for message in stream:
        adapter.validate_python(message)

    count = len(stream)
    print(
        f"stream: {count:,} events, {audio / count:.1%} response.output_audio.delta "
        f"(20 ms of 24 kHz PCM16 each); best of {args.runs} runs"
    )
    ours, theirs = best_times(
        _drain(decode, stream), _drain(adapter.validate_python, stream), args.runs
    )
    print(
        _line("dicts", count, "voicewire", ours, "openai pydantic validate_python", theirs),
        flush=True,
    )

    # The frames as they come off the WebSocket. voicewire parses with pydantic-core's JSON parser
    # (no validation) and decodes; the Agents SDK runs json.loads and then validate_python.
    loads, validate_python = json.loads, adapter.validate_python

    def loads_and_validate(text: str) -> object:
        return validate_python(loads(text))

    decode_text = CODEC.decode_server_text
    ours_name = "voicewire decode_server_text"
    ours, theirs = best_times(
        _drain(decode_text, texts), _drain(loads_and_validate, texts), args.runs
    )
    label = "JSON text, as the OpenAI Agents SDK does: json.loads + validate_python"
    print(_line(label, count, ours_name, ours, "peer", theirs), flush=True)

    ours, theirs = best_times(
        _drain(decode_text, texts), _drain(adapter.validate_json, texts), args.runs
    )
    label = "JSON text vs pydantic validate_json"
    print(_line(label, count, ours_name, ours, "pydantic validate_json", theirs), flush=True)


if __name__ == "__main__":
    main()
