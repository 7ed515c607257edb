"""Semantic end of turn on the real models: Smart Turn v3.2 (from the pipecat-ai wheel) ends a
complete question's turn as soon as it judges it complete, and a pause in the middle of a
sentence does not end the turn. The utterances are the pause set of ``benchmarks/pause_set.py``,
spoken by piper; every turn is followed by more silence than the longest cap, so a turn that is
not judged complete still ends (by the cap) and each test tells the two apart by the recorded
reason, never by a time."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.server.conftest import raw_client, serve
from voicewire.protocol import (
    AudioInputAppend,
    ConnectOptions,
    SessionConfig,
    SessionUpdate,
    TurnDetection,
)
from voicewire.providers import local
from voicewire.providers.local import smart_turn
from voicewire.providers.local.engines import shared_vad
from voicewire.providers.local.smart_turn import EAGERNESS, semantic_timing, speech_only
from voicewire.providers.local.vad import VoiceActivityDetector
from voicewire.server import create_app
from voicewire.session import RealtimeSession

from .conftest import REQUIRE_LOCAL, Recorder, Speech, needs_models, words
from .test_pipeline import (
    EchoLLM,
    connection,
    make_agent,
    open_session,
    silence,
    stream_real_time,
)

pytestmark = [needs_models, pytest.mark.timeout(180)]

PAUSE_SET_FILE = Path(__file__).resolve().parents[3] / "benchmarks" / "pause_set.py"
PAUSE_S = 0.7
"""The pause set's pause (``benchmarks/pause_set.py``): no wait may end a turn within it."""
TAIL_MS = 2600
"""Silence after each utterance: more than the longest cap (``low``, 2 s)."""
PAUSED = [
    ("So I was thinking that maybe we could", "go to the beach on Saturday."),
    ("The thing I really need right now is", "a cup of hot coffee."),
    ("Can you remind me to call my", "sister tomorrow morning?"),
]


def load_pause_set() -> ModuleType:
    name = "voicewire_benchmarks_pause_set"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PAUSE_SET_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pause_set(speech: Speech) -> Any:
    if not smart_turn.available():
        why = f"Smart Turn is not installed ({smart_turn.PACKAGE}): make local-deps"
        if os.environ.get(REQUIRE_LOCAL) == "1":
            pytest.fail(f"{why}; {REQUIRE_LOCAL}=1 requires it", pytrace=False)
        pytest.skip(why)
    return load_pause_set().PauseSet(speech.tts)


class ThreadSpy:
    """Wraps Smart Turn's ``probability`` to record the threads it runs on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[threading.Thread] = []
        model = smart_turn.shared_smart_turn()
        real = model.probability

        def spy(audio: Any) -> float:
            self.threads.append(threading.current_thread())
            return real(audio)

        monkeypatch.setattr(model, "probability", spy)


async def test_a_complete_question_ends_the_turn_when_smart_turn_judges_it_complete(
    pause_set: Any, loaded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ThreadSpy(monkeypatch)
    question = pause_set.complete("What is the capital of France?")
    session, rec = open_session(make_agent())  # no turn detection named: the default
    assert session.turn_detection.mode == "semantic_vad"  # the session sees the model's default
    async with session:
        await stream_real_time(session, question.pcm(24000) + silence(TAIL_MS))
        done = await rec.wait_for("response.done", 60)
        ends = connection(session).turn_ends
    assert done.status == "completed"
    assert rec.kinds().count("speech.stopped") == 1
    [heard] = rec.of("transcript.input")
    assert words(heard.text) == words(question.text)
    [end] = ends
    assert end.item_id == heard.item_id
    assert end.reason == "semantic"  # not the cap, which the silence sent would have reached
    assert end.probability is not None
    assert end.probability >= semantic_timing(TurnDetection("semantic_vad")).threshold
    assert spy.threads and threading.main_thread() not in spy.threads  # never on the loop


async def test_smart_turn_judges_after_whisper_not_beside_it(
    pause_set: Any, loaded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On two cores the two slowed each other, and the answer waits for whisper: Smart Turn
    # runs once the transcript is there (see voicewire.providers.local.turns).
    model = local.realtime(EchoLLM())
    stt, judge = model.engines.stt, smart_turn.shared_smart_turn()
    transcribing: list[int] = []
    judged_while: list[int] = []
    real_transcribe, real_probability = stt.transcribe, judge.probability

    def transcribe(audio: Any) -> Any:
        transcribing.append(1)
        try:
            return real_transcribe(audio)
        finally:
            transcribing.pop()

    def probability(audio: Any) -> float:
        judged_while.append(len(transcribing))
        return real_probability(audio)

    monkeypatch.setattr(stt, "transcribe", transcribe)
    monkeypatch.setattr(judge, "probability", probability)
    question = pause_set.complete("What is the capital of France?")
    session, rec = open_session(make_agent(), model)
    async with session:
        await stream_real_time(session, question.pcm(24000) + silence(TAIL_MS))
        await rec.wait_for("response.done", 60)
        ends = connection(session).turn_ends
    assert [e.reason for e in ends] == ["semantic"]
    assert judged_while and judged_while == [0] * len(judged_while)


async def test_a_question_only_its_transcript_reads_finished_waits_less_than_the_cap(
    pause_set: Any, loaded: None
) -> None:
    # Smart Turn hears this one as unfinished (p ~0.01); whisper writes its question mark.
    question = pause_set.complete("Can you recommend a good book?")
    session, rec = open_session(make_agent(), local.realtime(EchoLLM()))
    async with session:
        await stream_real_time(session, question.pcm(24000) + silence(TAIL_MS))
        await rec.wait_for("response.done", 60)
        ends = connection(session).turn_ends
    [end] = ends
    assert end.reason == "unsure", end
    assert end.probability is not None
    assert end.probability < semantic_timing(TurnDetection("semantic_vad")).threshold
    assert rec.of("transcript.input")[0].text.endswith("?")


@pytest.mark.parametrize(("first", "second"), PAUSED, ids=[p[0].split()[-1] for p in PAUSED])
async def test_a_pause_in_the_middle_of_a_sentence_does_not_end_the_turn(
    pause_set: Any, loaded: None, first: str, second: str
) -> None:
    utterance = pause_set.paused(first, second)
    session, rec = open_session(make_agent(), local.realtime(EchoLLM()))
    async with session:
        await stream_real_time(session, utterance.pcm(24000) + silence(TAIL_MS))
        done = await rec.wait_for("response.done", 60)
        await asyncio.sleep(0.3)
        ends = connection(session).turn_ends
    assert done.status == "completed"
    kinds = rec.kinds()
    assert kinds.count("speech.started") == kinds.count("speech.stopped") == 1
    [heard] = rec.of("transcript.input")  # both halves, in ONE user turn
    for half in (first, second):
        said = words(half).split()
        caught = [w for w in said if w in words(heard.text).split()]
        assert len(caught) >= len(said) / 2, (half, heard.text)
    answer = words(rec.of("transcript.output")[0].text)
    assert words(first).split()[-1] in answer and words(second).split()[-1] in answer
    [end] = ends
    assert end.item_id == heard.item_id and end.reason in ("semantic", "unsure", "cap")


async def test_server_vad_keeps_the_fixed_silence_and_never_asks_smart_turn(
    pause_set: Any, loaded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ThreadSpy(monkeypatch)
    config = SessionConfig(turn_detection=TurnDetection("server_vad", silence_duration_ms=400))
    session, rec = open_session(make_agent(), local.realtime(EchoLLM()), config=config)
    assert session.turn_detection.mode == "server_vad"
    question = pause_set.complete("Where do penguins live?")
    async with session:
        await stream_real_time(session, question.pcm(24000) + silence(800))
        await rec.wait_for("response.done", 60)
        ends = connection(session).turn_ends
    assert [(e.reason, e.judgements) for e in ends] == [("silence", ())]
    assert spy.threads == []


def test_the_options_default_turn_detection_is_the_sessions_when_none_is_named(
    pause_set: Any,
) -> None:
    model = local.realtime(EchoLLM(), default_turn_detection="server_vad")
    assert RealtimeSession(make_agent(), model=model).turn_detection.mode == "server_vad"


async def test_semantic_vad_without_smart_turn_is_refused_and_the_session_goes_on(
    speech: Speech, loaded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smart_turn, "available", lambda: False)
    semantic = SessionConfig(turn_detection=TurnDetection("semantic_vad", eagerness="high"))
    conn = await local.realtime(EchoLLM()).connect(ConnectOptions(session_config=semantic))
    rec = Recorder()
    conn.deliver_to(rec, lambda: None)
    try:
        error = await rec.wait_for("session.error", 30)
        assert error.code == "local_extra_missing"
        assert smart_turn.PACKAGE in error.message and "server_vad" in error.message
        assert "session.updated" not in rec.kinds()
        # No turn detection named: without Smart Turn the default is the fixed silence.
        conn.send(AudioInputAppend(speech.pcm("capital") + silence(800)))
        await rec.wait_for("transcript.input", 60)
        assert [e.reason for e in conn.turn_ends] == ["silence"]
    finally:
        await conn.close()


def vad_kinds(detector: VoiceActivityDetector, audio: bytes) -> list[str]:
    samples = np.frombuffer(audio, dtype=np.int16)
    return [e.kind for e in detector.feed(samples)]


def test_the_vad_says_quiet_once_per_pause_before_the_cap_ends_the_speech(
    speech: Speech,
) -> None:
    voiced = speech.voiced("capital", 16000)
    detector = VoiceActivityDetector(shared_vad(), silence_ms=1500, check_ms=200)
    audio = voiced + silence(300, 16000) + voiced + silence(1600, 16000)
    assert vad_kinds(detector, audio) == [
        "start",
        *("pause", "quiet", "resume"),
        *("pause", "quiet", "end"),
    ]
    plain = VoiceActivityDetector(shared_vad(), silence_ms=1500)  # server_vad: no quiet
    assert vad_kinds(plain, voiced + silence(1600, 16000)) == ["start", "pause", "end"]


async def test_eagerness_chooses_the_threshold_and_the_cap(pause_set: Any, loaded: None) -> None:
    assert EAGERNESS["low"].threshold > EAGERNESS["high"].threshold
    assert 1500 <= EAGERNESS["high"].cap_ms < EAGERNESS["low"].cap_ms <= 2000
    assert all(1000 * PAUSE_S < t.unsure_ms < t.cap_ms for t in EAGERNESS.values())
    conn = await local.realtime(EchoLLM()).connect()
    rec = Recorder()
    conn.deliver_to(rec, lambda: None)
    try:
        for eagerness in ("low", "high"):
            td = TurnDetection("semantic_vad", eagerness=eagerness)
            start = len(rec.events)
            conn.send(SessionUpdate(SessionConfig(turn_detection=td)))
            await rec.wait_for("session.updated", 30, start)
            assert conn._turns._vad.silence_ms == EAGERNESS[eagerness].cap_ms
            assert conn._turns._vad.check_ms == 200
    finally:
        await conn.close()


def test_smart_turn_hears_the_speech_to_its_last_sample_wherever_the_audio_starts(
    speech: Speech,
) -> None:
    voiced = np.frombuffer(speech.voiced("capital", 16000), dtype=np.int16)
    sound = voiced.astype(np.float32) / 32768.0
    ends = set()
    for shift in (0, 37, 91, 133):  # where the 10 ms windows fall
        audio = np.concatenate([np.zeros(shift, np.float32), sound, np.zeros(3200, np.float32)])
        ends.add(speech_only(audio).size - shift)
    [end] = ends  # the same end whatever the shift
    peak = float(np.abs(sound).max())
    assert abs(float(sound[end - 1])) >= peak * 10 ** (-45 / 20)
    assert np.all(np.abs(sound[end:]) < peak * 10 ** (-45 / 20))


async def test_the_server_shows_an_openai_client_that_chose_nothing_semantic_vad(
    pause_set: Any, loaded: None
) -> None:
    app = create_app(make_agent(), local.realtime(EchoLLM()))
    async with serve(app) as served, raw_client(served) as client:
        [created] = client.frames  # the browser demo page names no turn detection either
        assert created["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        chosen = {"type": "server_vad", "silence_duration_ms": 400}
        session = {"type": "realtime", "audio": {"input": {"turn_detection": chosen}}}
        await client.send({"type": "session.update", "session": session})
        [*_, updated] = await client.until("session.updated", timeout=30)
        assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
