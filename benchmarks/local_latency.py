"""Benchmark: the local offline model's response latency and barge-in, on this machine's CPU.

Spoken questions (synthesised with the bundled piper voice) are streamed into a
``RealtimeSession`` in real time, 20 ms at a time, as a microphone would, and each turn is timed
from the end of the speech in the audio (the last voiced 20 ms frame sent) to the first byte of
the answer's audio reaching the session. Each stage's share is read from the connection's own
timestamps:

- ``end of turn``: end of speech -> the VAD declares the turn over (its silence window);
- ``stt``: whisper's compute time for the utterance;
- ``llm``: the LLM from its start to the first speakable clause;
- ``tts``: piper's time for that first clause.

With speculation (the default) STT, LLM and TTS run inside the end-of-turn silence, so the shares
overlap and add up to more than 100 %.

The peer, measured in the same run on the same audio, is the straightforward pipeline the issue
describes: wait for the end of turn, then transcribe with whisper's usual 30 s window, then
generate until the first full sentence, then synthesise it.

Barge-in: while the model is speaking a long answer, another utterance is streamed in; timed from
the voice onset in that audio to the moment the answer's output stops (the cancelled
``response.done``, after which no audio of it arrives; ``speech.started`` comes at the same time
and is where a channel stops playback).

Event loop: the longest the event loop went without running a 10 ms timer while the turns ran
(the models work in threads: it should stay far below the latencies above).

Answers: each LLM (the default, and each opt-in model that is installed) is asked the fixed
question set of :mod:`voicewire.testing.answer_set` (facts, sums, advice, questions it cannot
know the answer to), scored by keywords, beside its median time to the first token.

Run: ``python benchmarks/local_latency.py [--turns 10] [--barge-ins 5] [--no-peer]
[--no-answers | --answers-only]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr

from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import ConfigurationError, ConnectOptions, SessionConfig
from voicewire.providers import local
from voicewire.providers.local import LocalConnection, LocalOptions, LocalRealtimeModel
from voicewire.providers.local.engines import Engines
from voicewire.providers.local.stt import WhisperSTT
from voicewire.providers.local.tts import PiperTTS
from voicewire.testing import answer_set

RATE = 24000
FRAME = 960  # 20 ms of 24 kHz PCM16
INSTRUCTIONS = "You are a helpful voice assistant. Answer briefly, in one or two sentences."
QUESTIONS = [
    "What is the capital of France?",
    "How are you doing today?",
    "Tell me something about the moon.",
    "What is your favourite colour?",
    "Can you recommend a good book?",
    "What should I cook for dinner tonight?",
    "Why is the sky blue?",
    "How many legs does a spider have?",
    "What is the best way to learn a language?",
    "Say something nice about cats.",
    "What time of year is best for a holiday?",
    "Where do penguins live?",
]
STORY = "Please tell me a long story about a brave little dragon."
BARGE = "Stop, wait a moment please."


def speak(tts: PiperTTS, text: str) -> bytes:
    samples = tts.synthesize(text, variation=False).astype(np.float32) / 32768.0
    audio = soxr.resample(samples, tts.sample_rate, RATE)
    return bytes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


def voiced_frames(audio: bytes) -> tuple[int, int]:
    """Index of the first and last 20 ms frame with voice in it."""
    samples = np.frombuffer(audio, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples) > 1000)
    return int(loud[0]) * 2 // FRAME, int(loud[-1]) * 2 // FRAME


@dataclass
class Turn:
    latency: float
    stages: dict[str, float] = field(default_factory=dict)


class Timeline:
    def __init__(self) -> None:
        self.events: list[tuple[float, Any]] = []
        self.changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append((time.monotonic(), event))
        self.changed.set()

    async def wait(self, match: Any, start: int, limit_s: float = 60.0) -> tuple[float, Any]:
        deadline = time.monotonic() + limit_s
        while True:
            for at, event in self.events[start:]:
                if match(event):
                    return at, event
            if time.monotonic() > deadline:
                raise TimeoutError("the local model did not answer in time")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1.0)


async def stream(session: RealtimeSession, audio: bytes, mark: int | None = None) -> float:
    """Send ``audio`` in real time; returns when frame ``mark`` was sent."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    marked = 0.0
    for i, offset in enumerate(range(0, len(audio), FRAME)):
        session.send_audio(audio[offset : offset + FRAME])
        if i == mark:
            marked = time.monotonic()
        delay = started + (i + 1) * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
    return marked


class LoopWatch:
    """The longest gap between the ticks of a 10 ms timer on the running event loop."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.01)
            last = now

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def connection_of(session: RealtimeSession) -> LocalConnection:
    conn = session._connection
    assert isinstance(conn, LocalConnection)
    return conn


async def run_turns(
    model: LocalRealtimeModel, questions: list[bytes], silence_ms: int = 800
) -> list[Turn]:
    agent = RealtimeAgent("bench", "Bench", instructions=INSTRUCTIONS)
    config = SessionConfig(max_output_tokens=40)
    session = RealtimeSession(
        agent, model=model, connect_options=ConnectOptions(session_config=config)
    )
    timeline = Timeline()
    session.on("*", timeline)
    turns: list[Turn] = []
    async with session:
        for audio in questions:
            _, last = voiced_frames(audio)
            start = len(timeline.events)
            padded = audio + bytes(2 * RATE * silence_ms // 1000)
            sending = asyncio.create_task(stream(session, padded, mark=last))
            first_at, first = await timeline.wait(lambda e: e.kind == "audio.output.delta", start)
            end_of_speech = await sending
            await timeline.wait(
                lambda e, r=first.response_id: e.kind == "response.done" and e.response_id == r,
                start,
            )
            t = connection_of(session).timings
            stages = {
                "end of turn": t["turn_end"] - end_of_speech,  # loop.time() is time.monotonic()
                "stt": t.get("stt_seconds", 0.0),
                "llm": t["first_clause"] - t["llm_start"],
                "tts": t["first_audio"] - t["first_clause"],
            }
            turns.append(Turn(first_at - end_of_speech, stages))
            await asyncio.sleep(0.3)
    return turns


async def run_barge_ins(
    model: LocalRealtimeModel, story: bytes, barge: bytes, n: int
) -> list[float]:
    agent = RealtimeAgent("bench", "Bench", instructions="You tell long, detailed stories.")
    config = SessionConfig(max_output_tokens=300)
    onset, _ = voiced_frames(barge)
    results: list[float] = []
    for _ in range(n):
        session = RealtimeSession(
            agent, model=model, connect_options=ConnectOptions(session_config=config)
        )
        timeline = Timeline()
        session.on("*", timeline)
        async with session:
            session.send_audio(story + bytes(2 * RATE * 800 // 1000))
            _, first = await timeline.wait(lambda e: e.kind == "audio.output.delta", 0)
            start = len(timeline.events)
            sending = asyncio.create_task(stream(session, barge, mark=onset))
            stopped_at, stopped = await timeline.wait(
                lambda e, r=first.response_id: e.kind == "response.done" and e.response_id == r,
                start,
            )
            voice_at = await sending
            if stopped.status == "cancelled" and stopped_at >= voice_at > 0:
                results.append(stopped_at - voice_at)
    return results


def straightforward(model: LocalRealtimeModel) -> LocalRealtimeModel:
    """The peer: no speculation, a 30 s whisper window, speak the first full sentence."""
    engines = Engines(
        vad=model.engines.vad,
        stt=WhisperSTT(min_window_s=30.0),
        tts=model.engines.tts,
        llm=model.engines.llm,
    )
    options = LocalOptions(speculate=False, first_clause_words=1000)
    return LocalRealtimeModel(engines, options, "local-straightforward")


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def summary(turns: list[Turn]) -> tuple[float, float]:
    latencies = [t.latency for t in turns]
    return statistics.median(latencies), p90(latencies)


def answer_models() -> list[local.LocalLLM]:
    """The LLMs whose answers are scored: the default, and each opt-in one that is installed."""
    models = [local.realtime().llm]
    try:
        models.append(local.realtime("qwen").llm)
    except ConfigurationError as exc:  # the local-qwen extra is not installed
        print(f"answers qwen: not scored ({exc.message})")
    return models


def print_answer_scores() -> None:
    """One line per LLM: its score on the fixed question set, beside its time to first token."""
    for llm in answer_models():
        print(answer_set.score(llm).line())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--barge-ins", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-answers", action="store_true", help="skip the answer scores")
    parser.add_argument("--answers-only", action="store_true", help="only the answer scores")
    args = parser.parse_args()
    if args.answers_only:
        await asyncio.to_thread(print_answer_scores)
        return

    model = local.realtime()
    loading = time.perf_counter()
    await model.load()
    print(f"models loaded in {time.perf_counter() - loading:.1f} s")
    tts = model.engines.tts
    questions = [speak(tts, QUESTIONS[i % len(QUESTIONS)]) for i in range(args.turns)]
    await run_turns(model, questions[:1])  # warm-up, not counted

    with LoopWatch() as loop_watch:
        turns = await run_turns(model, questions)
    median, tail = summary(turns)
    line = (
        f"local latency (end of speech -> first audio byte, {len(turns)} turns): "
        f"median {median:.3f} s | p90 {tail:.3f} s"
    )
    if not args.no_peer:
        peer = straightforward(model)
        await peer.load()
        await run_turns(peer, questions[:1])
        peer_turns = await run_turns(peer, questions)
        peer_median, peer_tail = summary(peer_turns)
        line += (
            f" | straightforward pipeline median {peer_median:.3f} s p90 {peer_tail:.3f} s"
            f" | ratio {peer_median / median:.2f}x"
        )
    print(line)
    shares = []
    for stage in ("end of turn", "stt", "llm", "tts"):
        value = statistics.median(t.stages[stage] for t in turns)
        shares.append(f"{stage} {value:.3f} s ({100 * value / median:.0f}%)")
    print(
        "  stage medians (share of the median latency; speculation overlaps them): "
        + " | ".join(shares)
    )
    if not args.no_peer:
        peer_shares = []
        for stage in ("end of turn", "stt", "llm", "tts"):
            value = statistics.median(t.stages[stage] for t in peer_turns)
            peer_shares.append(f"{stage} {value:.3f} s ({100 * value / peer_median:.0f}%)")
        print("  straightforward pipeline stage medians: " + " | ".join(peer_shares))
    print(f"event loop: longest stall {loop_watch.longest * 1000:.0f} ms during the turns")

    if args.barge_ins:
        story, barge = speak(tts, STORY), speak(tts, BARGE)
        stops = await run_barge_ins(model, story, barge, args.barge_ins)
        if stops:
            print(
                f"barge-in (voice onset -> output stopped, {len(stops)} trials): "
                f"median {statistics.median(stops):.3f} s | p90 {p90(stops):.3f} s"
            )
        else:
            print("barge-in: no trial interrupted an answer (they all finished first)")
    if not args.no_answers:
        await asyncio.to_thread(print_answer_scores)


if __name__ == "__main__":
    asyncio.run(main())
