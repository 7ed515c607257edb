"""Benchmark: the local offline model's response latency and barge-in, on this machine's CPU.

Spoken questions (synthesised with the bundled piper voice) are streamed into a
``RealtimeSession`` in real time, 20 ms at a time, as a microphone would, and each turn is timed
from the end of the speech in the audio (the last voiced 20 ms frame sent) to the first byte of
the answer's audio reaching the session. Each stage's share is read from the connection's own
timestamps:

- ``end of turn``: end of speech -> the turn is declared over (by Smart Turn and the transcript
  after 200 ms of silence, or at the cap: ``semantic_vad``, the default; or after a fixed
  silence: ``server_vad``);
- ``stt``: whisper's compute time for the utterance;
- ``llm``: the LLM from its start to the first speakable clause;
- ``tts``: piper's time for that first clause.

With speculation (the default) STT, LLM and TTS run inside the end-of-turn silence, so the shares
overlap and add up to more than 100 %.

The peers, measured in the same run on the same audio: the straightforward pipeline the issue
describes (wait for a fixed 400 ms silence, then transcribe with whisper's usual 30 s window, then
generate until the first full sentence, then synthesise it), and the same pipeline as the
default but with the fixed 400 ms silence (``server_vad``) instead of the end of turn by meaning.

Pause set (``benchmarks/pause_set.py``): sentences with a 0.7 s pause in the middle, and complete
questions; a premature end of turn is a sentence cut into two turns. Also printed: how many
complete questions ended by meaning (the others waited for the cap).

Barge-in: while the model is speaking a long answer, another utterance is streamed in; timed from
the voice onset in that audio to the moment the answer's output stops (the cancelled
``response.done``, after which no audio of it arrives; ``speech.started`` comes at the same time
and is where a channel stops playback).

Event loop: the longest the event loop went without running a 10 ms timer while the turns ran
(the models work in threads: it should stay far below the latencies above).

Conversations (``--conversation N``, 16 by default, 0 skips): the language model alone over a
long call (its first token within the chat window, and past it, where the window steps), and two
callers taking turns on it, with the conversations saved on a switch and without.

Answers: each LLM (the default, and each opt-in model that is installed) is asked the fixed
question set of :mod:`voicewire.testing.answer_set` (facts, sums, advice, questions it cannot
know the answer to), scored by keywords, beside its median time to the first token.

Run: ``python benchmarks/local_latency.py [--turns 10] [--barge-ins 5] [--no-peer]
[--pause-set 8] [--conversation 16] [--no-answers | --answers-only]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import soxr

from pause_set import COMPLETE, PAUSE_S, PAUSED, PauseSet
from voicewire import RealtimeAgent, RealtimeSession
from voicewire.protocol import (
    ConfigurationError,
    ConnectOptions,
    MessageItem,
    SessionConfig,
    TextPart,
)
from voicewire.providers import local
from voicewire.providers.local import LocalConnection, LocalOptions, LocalRealtimeModel, smart_turn
from voicewire.providers.local.conversation import LocalConversation
from voicewire.providers.local.engines import Engines
from voicewire.providers.local.llm import LlamaCppLLM, LLMRequest, TextDelta
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
    end_reason: str = ""
    """How the turn ended (``LocalConnection.turn_ends``: semantic, unsure, cap, silence)."""


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


def bench_session(
    model: LocalRealtimeModel, max_output_tokens: int
) -> tuple[RealtimeSession, Timeline]:
    agent = RealtimeAgent("bench", "Bench", instructions=INSTRUCTIONS)
    config = SessionConfig(max_output_tokens=max_output_tokens)
    session = RealtimeSession(
        agent, model=model, connect_options=ConnectOptions(session_config=config)
    )
    timeline = Timeline()
    session.on("*", timeline)
    return session, timeline


async def run_turns(
    model: LocalRealtimeModel, questions: list[bytes], silence_ms: int = 2200
) -> list[Turn]:
    """Times each question; ``silence_ms`` after each is more than semantic_vad's cap."""
    session, timeline = bench_session(model, 40)
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
                "smart turn": t.get("smart_turn_seconds", 0.0),
            }
            reason = connection_of(session).turn_ends[-1].reason
            turns.append(Turn(first_at - end_of_speech, stages, reason))
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
    options = LocalOptions(
        speculate=False, first_clause_words=1000, default_turn_detection="server_vad"
    )
    return LocalRealtimeModel(engines, options, "local-straightforward")


# -- end of turn: semantic (Smart Turn) against the fixed silence ---------------------------------


def fixed_hangover(model: LocalRealtimeModel) -> LocalRealtimeModel:
    """The same pipeline with ``server_vad``: the turn ends after a fixed silence (400 ms)."""
    options = replace(model.options, default_turn_detection="server_vad")
    return LocalRealtimeModel(model.engines, options, "local-fixed-hangover")


async def pause_set_ends(model: LocalRealtimeModel, utterances: list[bytes]) -> list[list[str]]:
    """How each of ``utterances`` (one sentence each) ended: the reason of each of its turns
    (more than one: the model cut the sentence)."""
    session, timeline = bench_session(model, 20)
    ends: list[list[str]] = []
    async with session:
        for audio in utterances:
            start = len(timeline.events)
            seen = len(connection_of(session).turn_ends)
            await stream(session, audio + bytes(2 * RATE * 2200 // 1000))
            await timeline.wait(lambda e: e.kind == "speech.stopped", start)
            ends.append([e.reason for e in connection_of(session).turn_ends[seen:]])
            with contextlib.suppress(TimeoutError):  # let the answer end before the next one
                await timeline.wait(lambda e: e.kind == "response.done", start, 20.0)
    return ends


async def print_turn_detection(
    model: LocalRealtimeModel,
    questions: list[bytes],
    semantic: list[Turn],
    *,
    pause_set_size: int,
    peer: bool,
) -> None:
    """The fixed-silence pipeline on the same questions (``peer``), and the premature ends of
    turn on the pause set (``benchmarks/pause_set.py``): of the semantic pipeline, and of the
    fixed one (``peer``); and how many of the set's complete questions ended by meaning."""
    if not smart_turn.available():
        print("semantic end of turn: Smart Turn is not installed (make local-deps)")
        return
    fixed = fixed_hangover(model)
    median, tail = summary(semantic)
    judged = statistics.median(t.stages["smart turn"] for t in semantic)
    reasons = collections.Counter(t.end_reason for t in semantic)
    print("  semantic turns ended: " + ", ".join(f"{n} {r}" for r, n in reasons.most_common()))
    print(
        f"  smart turn: median {judged:.3f} s per judgement (from the first pause: Smart Turn "
        "on one thread, and whisper's transcript; a turn ends 200 ms into the silence at best)"
    )
    if peer:
        fixed_turns = await run_turns(fixed, questions, silence_ms=800)
        fixed_median, fixed_tail = summary(fixed_turns)
        print(
            f"fixed-silence pipeline (server_vad, 400 ms; {len(fixed_turns)} turns): "
            f"median {fixed_median:.3f} s p90 {fixed_tail:.3f} s | semantic median "
            f"{median:.3f} s p90 {tail:.3f} s | semantic {fixed_median / median:.2f}x faster"
        )
        shares = []
        for stage in ("end of turn", "stt", "llm", "tts"):
            value = statistics.median(t.stages[stage] for t in fixed_turns)
            shares.append(f"{stage} {value:.3f} s ({100 * value / fixed_median:.0f}%)")
        print("  fixed-silence pipeline stage medians: " + " | ".join(shares))

    pause_set = PauseSet(model.engines.tts)
    pairs = PAUSED[:pause_set_size]
    paused = [pause_set.paused(first, second).pcm(RATE) for first, second in pairs]
    complete = [pause_set.complete(text).pcm(RATE) for text in COMPLETE[:pause_set_size]]
    line = f"pause set ({len(paused)} sentences, a {PAUSE_S} s pause mid-sentence): premature ends"
    line += f" of turn: semantic {sum(len(e) > 1 for e in await pause_set_ends(model, paused))}"
    if peer:
        line += f" | fixed silence {sum(len(e) > 1 for e in await pause_set_ends(fixed, paused))}"
    meant = sum(e == ["semantic"] for e in await pause_set_ends(model, complete))
    print(f"{line}; complete questions ended by meaning {meant}/{len(complete)} (else later)")


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


def first_tokens(llm: LlamaCppLLM, callers: int, exchanges: int) -> list[list[float]]:
    """Seconds to the first token of each reply when ``callers`` conversations take turns on
    one language model (the chat window and saved states as a session has them)."""
    chats = [LocalConversation() for _ in range(callers)]
    times: list[list[float]] = [[] for _ in range(callers)]
    for turn in range(exchanges):
        for who, chat in enumerate(chats):
            asked = QUESTIONS[(turn + who) % len(QUESTIONS)]
            chat.add(MessageItem(f"u{turn}", "user", (TextPart(asked),)))
            request = LLMRequest(
                INSTRUCTIONS, chat.chat(LocalOptions().history_items), (), "auto", 30
            )
            started, first, said = time.perf_counter(), 0.0, ""
            for event in llm.stream(request, threading.Event()):
                if isinstance(event, TextDelta):
                    first = first or time.perf_counter() - started
                    said += event.text
            times[who].append(first)
            chat.put_assistant(MessageItem(f"a{turn}", "assistant", (TextPart(said.strip()),)), [])
    return times


def print_conversations(exchanges: int) -> None:
    """A long call past the chat window, and two callers taking turns, on the default LLM."""
    [alone] = first_tokens(LlamaCppLLM(), 1, exchanges)
    late = alone[12:] or alone[-1:]
    print(
        f"long call (one caller, {exchanges} exchanges, the language model alone): first token "
        f"median {statistics.median(alone[1:12] or alone):.3f} s in exchanges 2-12 | "
        f"{statistics.median(late):.3f} s from the 13th (max {max(late):.3f} s: the window steps)"
    )
    turns = min(exchanges, 6)
    saved = [t[-1] for t in first_tokens(LlamaCppLLM(), 2, turns)]
    unsaved = [t[-1] for t in first_tokens(LlamaCppLLM(prompt_cache_mb=0), 2, turns)]
    print(
        f"two callers taking turns ({turns} exchanges each): first token at the last exchange "
        f"{statistics.mean(saved):.3f} s with saved states | {statistics.mean(unsaved):.3f} s "
        f"without | {statistics.mean(unsaved) / statistics.mean(saved):.1f}x sooner"
    )


def print_answer_scores() -> None:
    """One line per LLM: its score on the fixed question set, beside its time to first token."""
    for llm in answer_models():
        print(answer_set.score(llm).line())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--barge-ins", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--pause-set", type=int, default=len(PAUSED), help="sentences of each kind")
    parser.add_argument(
        "--conversation", type=int, default=16, help="exchanges of the long call (0: skip it)"
    )
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
    await print_turn_detection(
        model, questions, turns, pause_set_size=args.pause_set, peer=not args.no_peer
    )
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
    if args.conversation:
        await asyncio.to_thread(print_conversations, args.conversation)
    if not args.no_answers:
        await asyncio.to_thread(print_answer_scores)


if __name__ == "__main__":
    asyncio.run(main())
