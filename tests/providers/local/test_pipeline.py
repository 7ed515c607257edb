"""The local model end to end with its real models: piper speaks test utterances, silero hears
them, whisper transcribes them, SmolLM2 answers and piper speaks the answer, through a
RealtimeSession as an app would use it. Nothing in the pipeline is mocked; where the 135M model is
too unreliable to assert on (the tool mechanism), a scripted LLM stands in for the LLM only."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicewire import RealtimeAgent, RealtimeSession
from voicewire.channels import WavChannel
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputCommit,
    ConnectOptions,
    MessageItem,
    SessionConfig,
    TranscriptionConfig,
    TurnDetection,
    user_text,
)
from voicewire.providers import local
from voicewire.providers.local import (
    ChatMessage,
    LLMRequest,
    LLMUsage,
    LocalConnection,
    LocalOptions,
    LocalRealtimeModel,
    TextDelta,
    ToolCallRequest,
)
from voicewire.providers.local.engines import Engines
from voicewire.tools import tool

from .conftest import INSTRUCTIONS, PHRASES, Recorder, Speech, needs_models, words

pytestmark = [needs_models, pytest.mark.timeout(150)]

ORDER = [
    "session.created",
    "session.updated",
    "speech.started",
    "speech.stopped",
    "audio.input.committed",
    "transcript.input",
    "response.created",
    "transcript.output.delta",
    "audio.output.delta",
    "audio.output.done",
    "transcript.output",
    "response.done",
]


def make_agent(**kwargs: Any) -> RealtimeAgent:
    kwargs.setdefault("instructions", INSTRUCTIONS)
    return RealtimeAgent("local-test", "Local test", **kwargs)


def open_session(
    agent: RealtimeAgent,
    model: Any = None,
    *,
    channel: Any = None,
    config: SessionConfig | None = None,
) -> tuple[RealtimeSession, Recorder]:
    session = RealtimeSession(
        agent,
        model=model or local.realtime(),
        channel=channel,
        connect_options=ConnectOptions(session_config=config) if config else None,
    )
    recorder = Recorder()
    session.on("*", recorder)
    return session, recorder


def connection(session: RealtimeSession) -> LocalConnection:
    conn = session._connection
    assert isinstance(conn, LocalConnection)
    return conn


def silence(ms: int, rate: int = 24000) -> bytes:
    return bytes(2 * rate * ms // 1000)


async def settle(session: RealtimeSession, recorder: Recorder, extra_s: float = 1.5) -> None:
    """Wait until the connection has handled everything sent so far, then ``extra_s`` more for
    any transcription or response it started."""
    marker = user_text("marker", item_id="item_marker")
    start = len(recorder.events)
    connection(session).send(__import__("voicewire").protocol.ItemCreate(marker))
    await recorder.wait_for(
        lambda e: e.kind == "item.created" and e.item.id == "item_marker", 30, start
    )
    await asyncio.sleep(extra_s)


def first_indexes(kinds: list[str], wanted: list[str]) -> list[int]:
    return [kinds.index(k) for k in wanted]


async def test_a_spoken_question_is_transcribed_and_answered_with_speech(
    speech: Speech, loaded: None, tmp_path: Path
) -> None:
    channel = WavChannel(speech.wav("capital"), tmp_path / "reply.wav", realtime=False)
    session, rec = open_session(make_agent(), channel=channel)
    async with session:
        done = await rec.wait_for("response.done", 60)
    kinds = [k for k in rec.kinds() if k != "status.changed"]

    heard = rec.of("transcript.input")
    assert len(heard) == 1
    assert words(heard[0].text) == words(PHRASES["capital"])
    assert done.status == "completed"
    assert done.usage is not None and done.usage.output_tokens > 0
    assert done.usage.input_tokens > 0

    indexes = first_indexes(kinds, ORDER)
    assert indexes == sorted(indexes), [kinds[i] for i in sorted(indexes)]
    assert kinds.count("speech.started") == kinds.count("speech.stopped") == 1
    assert "text.output.delta" not in kinds

    deltas = rec.of("audio.output.delta")
    audio = b"".join(d.audio for d in deltas)
    assert len(audio) > 24000 * 2 * 0.5  # more than half a second of 24 kHz speech
    assert {d.response_id for d in deltas} == {done.response_id}
    said = rec.of("transcript.output")[0].text
    assert said and "".join(d.delta for d in rec.of("transcript.output.delta")) == said
    assert channel.reply_ms > 500
    assert (tmp_path / "reply.wav").stat().st_size > 0
    assistant = [i for i in session.history.items if isinstance(i, MessageItem)][-1]
    assert assistant.role == "assistant" and assistant.text == said


async def test_speech_during_the_answer_stops_it_where_the_speech_is_detected(
    speech: Speech, loaded: None
) -> None:
    agent = make_agent(instructions="You are a storyteller. Tell long, detailed stories.")
    config = SessionConfig(max_output_tokens=400)
    session, rec = open_session(agent, config=config)
    async with session:
        session.send_audio(speech.pcm("story") + silence(700))
        first = await rec.wait_for("audio.output.delta", 60)
        response_id = first.response_id
        assert not any(e.kind == "response.done" for e in rec.events), "answered too fast"

        speaking_from = len(rec.events)
        barge = speech.pcm("stop")
        frame = 960  # 20 ms at 24 kHz, in real time, until the answer stops
        stopped = None
        for offset in range(0, len(barge), frame):
            session.send_audio(barge[offset : offset + frame])
            await asyncio.sleep(0.02)
            stopped = next(
                (
                    e
                    for e in rec.events
                    if e.kind == "response.done" and e.response_id == response_id
                ),
                None,
            )
            if stopped is not None:
                break
        assert stopped is not None and stopped.status == "cancelled"
        # The answer stopped where the user's speech was detected: not one more byte of its
        # audio after that speech.started (how long that took is the benchmark's figure:
        # benchmarks/local_latency.py prints barge-in, voice onset -> output stopped).
        barge_at = next(
            i for i, e in enumerate(rec.events) if i >= speaking_from and e.kind == "speech.started"
        )
        assert barge_at < rec.events.index(stopped)
        late = [
            e
            for e in rec.events[barge_at:]
            if e.kind == "audio.output.delta" and e.response_id == response_id
        ]
        assert late == []
        interrupted = [e for e in rec.events if e.kind == "response.interrupted"]
        assert interrupted and any(e.response_id == response_id for e in interrupted)

        # The words that cut in are the next turn, and the cut answer is truncated in history.
        session.send_audio(barge[offset + frame :] + silence(700))
        heard = await rec.wait_for(
            lambda e: e.kind == "transcript.input" and "stop" in words(e.text), 30
        )
        assert "wait" in words(heard.text)
        truncated = await rec.wait_for("item.truncated", 10)
        cut = next(i for i in connection(session).history if i.id == truncated.item_id)
        assert isinstance(cut, MessageItem) and cut.status == "incomplete"
        spoken = rec.of("transcript.output")
        full = next(t.text for t in spoken if t.item_id == truncated.item_id)
        assert len(cut.text) <= len(full)


async def test_text_only_sessions_answer_in_text_and_skip_speech(
    speech: Speech, loaded: None
) -> None:
    channel = WavChannel(speech.wav("hello"), realtime=False)
    config = SessionConfig(modalities=["text"])
    session, rec = open_session(make_agent(), channel=channel, config=config)
    async with session:
        done = await rec.wait_for("response.done", 60)
    kinds = rec.kinds()
    assert done.status == "completed"
    assert words(rec.of("transcript.input")[0].text) == words(PHRASES["hello"])
    text = rec.of("text.output")[0].text
    assert text and "".join(d.delta for d in rec.of("text.output.delta")) == text
    for absent in ("audio.output.delta", "audio.output.done", "transcript.output.delta"):
        assert absent not in kinds
    assert kinds.index("response.created") < kinds.index("text.output.delta")


async def test_manual_turn_detection_waits_for_the_commit(speech: Speech, loaded: None) -> None:
    channel = WavChannel(
        speech.wav("hello"), realtime=False, commit_at_end=True, trailing_silence_ms=100
    )
    config = SessionConfig(turn_detection=TurnDetection("manual"))
    session, rec = open_session(make_agent(), channel=channel, config=config)
    async with session:
        done = await rec.wait_for("response.done", 60)
    kinds = rec.kinds()
    assert "speech.started" not in kinds and "speech.stopped" not in kinds
    assert words(rec.of("transcript.input")[0].text) == words(PHRASES["hello"])
    order = first_indexes(kinds, ["audio.input.committed", "transcript.input", "response.created"])
    assert order == sorted(order)
    assert done.status == "completed" and rec.of("audio.output.delta")


async def test_a_tool_call_round_trip_with_the_bundled_model(speech: Speech, loaded: None) -> None:
    cities: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        cities.append(city)
        return json.dumps({"city": city, "sky": "sunny", "temperature_celsius": 22})

    channel = WavChannel(speech.wav("weather"), realtime=False)
    session, rec = open_session(make_agent(tools=[get_weather]), channel=channel)
    async with session:
        call = await rec.wait_for("tool.call", 60)
        output = await rec.wait_for("tool.output", 30)
        second = await rec.wait_for(
            lambda e: e.kind == "response.done" and e.response_id != call.response_id, 60
        )
    heard = [t.text for t in rec.of("transcript.input")]
    assert call.name == "get_weather", heard
    assert json.loads(call.arguments)["city"].lower() == "paris", heard
    assert cities and cities[0].lower() == "paris"
    assert not output.is_error
    kinds = rec.kinds()
    assert kinds.index("tool.start") < kinds.index("tool.call")
    first_done = next(e for e in rec.events if e.kind == "response.done")
    assert first_done.response_id == call.response_id and first_done.status == "completed"
    assert second.status == "completed"
    answer = [d for d in rec.of("audio.output.delta") if d.response_id == second.response_id]
    assert answer, "the model did not speak after the tool result"


class ScriptedLLM:
    """A deterministic stand-in for the LLM only (VAD, STT and TTS stay real): calls
    ``get_time`` when tools are offered, then answers with the tool's result."""

    name = "scripted"

    def __init__(self) -> None:
        self.requests: list[LLMRequest] = []

    def load(self) -> None:
        return None

    def warm(self, request: LLMRequest) -> None:
        return None

    def stream(self, request: LLMRequest, cancel: threading.Event) -> Iterator[Any]:
        self.requests.append(request)
        last = request.messages[-1]
        if last.role == "tool":
            result = json.loads(last.content)
            yield TextDelta(f"It is {result['time']} in {result['zone']}.")
        elif request.tools and request.tool_choice != "none":
            yield ToolCallRequest("get_time", json.dumps({"zone": "UTC"}))
        else:
            yield TextDelta("Hello! I have no clock.")
        yield LLMUsage(7, 3)


async def test_tool_results_come_back_and_the_model_continues(speech: Speech, loaded: None) -> None:
    @tool
    def get_time(zone: str) -> str:
        """Tell the time in a time zone."""
        return json.dumps({"zone": zone, "time": "noon"})

    llm = ScriptedLLM()
    channel = WavChannel(speech.wav("hello"), realtime=False)
    session, rec = open_session(make_agent(tools=[get_time]), local.realtime(llm), channel=channel)
    async with session:
        call = await rec.wait_for("tool.call", 60)
        second = await rec.wait_for(
            lambda e: e.kind == "response.done" and e.response_id != call.response_id, 60
        )
    assert (call.name, json.loads(call.arguments)) == ("get_time", {"zone": "UTC"})
    assert second.status == "completed"
    said = [t.text for t in rec.of("transcript.output") if t.response_id == second.response_id]
    assert said == ["It is noon in UTC."]
    assert any(d.response_id == second.response_id for d in rec.of("audio.output.delta"))
    # What the LLM saw: the user's words, then the call and its result.
    first, last = llm.requests[0], llm.requests[-1]
    assert words(first.messages[-1].content) == words(PHRASES["hello"])
    assert [t.name for t in first.tools] == ["get_time"]
    assert [m.role for m in last.messages][-3:] == ["user", "assistant", "tool"]
    assert last.messages[-2].tool_call is not None
    assert last.messages[-1].tool_call_id == call.call_id


async def test_an_openai_compatible_endpoint_can_be_the_llm(loaded: None) -> None:
    import httpx

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert body["messages"][-1] == {"role": "user", "content": "Say hi."}
        chunks = [{"choices": [{"delta": {"content": w}}]} for w in ("Hi ", "from ", "HTTP.")]
        data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, content=data.encode())

    llm = local.OpenAICompatibleLLM(
        "http://llm.test/v1", "m", transport=httpx.MockTransport(handler)
    )
    session, rec = open_session(make_agent(), local.realtime(llm))
    async with session:
        session.send_message("Say hi.")
        done = await rec.wait_for("response.done", 30)
    assert done.status == "completed"
    assert rec.of("transcript.output")[0].text == "Hi from HTTP."
    assert rec.of("audio.output.delta")


async def test_silence_and_noise_get_no_response(loaded: None) -> None:
    session, rec = open_session(make_agent())
    rng = np.random.default_rng(7)
    noise = (rng.normal(0, 0.08, 24000 * 2) * 32767).astype(np.int16).tobytes()
    hum = (np.sin(np.arange(24000) * 2 * np.pi * 50 / 24000) * 3000).astype(np.int16).tobytes()
    async with session:
        for chunk in (silence(1500), noise, hum, silence(1000)):
            for i in range(0, len(chunk), 960):
                session.send_audio(chunk[i : i + 960])
        await settle(session, rec, 2.0)
    kinds = rec.kinds()
    assert "response.created" not in kinds
    assert not [t for t in rec.of("transcript.input") if t.text]
    assert not [e for e in rec.of("session.error") if e.fatal]


async def test_manual_commit_of_silence_or_of_nothing_gets_no_response(loaded: None) -> None:
    config = SessionConfig(turn_detection=TurnDetection("manual"))
    session, rec = open_session(make_agent(), config=config)
    async with session:
        session.commit()  # nothing appended yet
        error = await rec.wait_for("session.error", 10)
        assert error.code == "input_audio_buffer_commit_empty" and not error.fatal
        session.send_audio(silence(1200))
        session.commit()
        heard = await rec.wait_for("transcript.input", 20)
        await settle(session, rec, 1.5)
    assert heard.text == ""
    assert "response.created" not in rec.kinds()


async def test_empty_odd_and_mislabelled_audio_do_not_break_the_session(
    speech: Speech, loaded: None
) -> None:
    # The session says 8 kHz, the audio is really 24 kHz: garbled but harmless.
    config = SessionConfig(input_audio_format=AudioFormat.pcm16(8000))
    session, rec = open_session(make_agent(), config=config)
    async with session:
        conn = connection(session)
        conn.send(AudioInputAppend(b""))
        conn.send(AudioInputAppend(b"\x01"))  # half a sample
        conn.send(AudioInputAppend(b"\x02\x03\x04"))
        session.send_audio(speech.pcm("capital", 24000) + silence(800))
        await settle(session, rec, 0.5)
        start = len(rec.events)
        session.send_message("Hello!")
        done = await rec.wait_for("response.done", 60, start)
        assert done.status in ("completed", "cancelled")
    assert not [e for e in rec.of("session.error") if e.fatal]
    assert session.status.value == "closed"


class Watched:
    """An engine whose heavy calls note the thread they are made on (the rest is the engine's)."""

    def __init__(self, engine: Any, *heavy: str) -> None:
        self._engine = engine
        self.calls: list[tuple[str, int]] = []
        for name in heavy:
            setattr(self, name, self._noting(name, getattr(engine, name)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def _noting(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, threading.get_ident()))
            return method(*args, **kwargs)

        return call

    def called(self, name: str) -> int:
        return sum(1 for called, _ in self.calls if called == name)


def watched_model() -> tuple[LocalRealtimeModel, Watched, Watched, Watched]:
    """The default local model with its STT, TTS and LLM watched (the VAD runs inline)."""
    engines = local.realtime().engines
    stt = Watched(engines.stt, "transcribe")
    tts = Watched(engines.tts, "synthesize")
    llm = Watched(engines.llm, "stream", "warm")
    model = LocalRealtimeModel(
        Engines(vad=engines.vad, stt=stt, tts=tts, llm=llm),  # type: ignore[arg-type]
        LocalOptions(),
        "local-watched",
    )
    return model, stt, tts, llm


async def until(condition: Callable[[], object], message: str, limit_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.01)


async def test_models_are_shared_and_their_work_runs_off_the_event_loop(
    speech: Speech, loaded: None
) -> None:
    one, two = local.realtime(), local.realtime()
    assert one.engines.stt is two.engines.stt
    assert one.engines.tts is two.engines.tts
    assert one.engines.vad is two.engines.vad
    assert one.engines.llm is two.engines.llm

    # Whisper, the LLM and piper take hundreds of milliseconds a call: each call is made on a
    # worker thread, never on the event loop's (how long the loop ever waits is a figure that
    # benchmarks/local_latency.py prints).
    model, stt, tts, llm = watched_model()
    session, rec = open_session(make_agent(), model)
    async with session:
        session.send_audio(speech.pcm("capital") + silence(700))
        await rec.wait_for("response.done", 60)
    assert rec.of("audio.output.delta")
    calls = stt.calls + tts.calls + llm.calls
    assert {name for name, _ in calls} == {"transcribe", "synthesize", "stream", "warm"}
    on_the_loop = [name for name, thread in calls if thread == threading.get_ident()]
    assert on_the_loop == []


async def test_a_commit_under_server_vad_ends_the_turn_at_once(
    speech: Speech, loaded: None
) -> None:
    session, rec = open_session(make_agent(), config=SessionConfig(modalities=["text"]))
    async with session:
        audio = speech.pcm("hello")
        session.send_audio(audio[: len(audio) - 4800])  # cut before the speech ends
        await rec.wait_for("speech.started", 20)
        connection(session).send(AudioInputCommit())
        stopped = await rec.wait_for("speech.stopped", 10)
        await rec.wait_for("response.done", 60)
    assert stopped.item_id == rec.of("audio.input.committed")[0].item_id
    assert rec.of("transcript.input")[0].text


class EchoLLM(ScriptedLLM):
    """Repeats what the user said (the LLM only; VAD, STT and TTS stay real)."""

    name = "echo"

    def stream(self, request: LLMRequest, cancel: threading.Event) -> Iterator[Any]:
        self.requests.append(request)
        yield TextDelta(f"You said: {request.messages[-1].content}")
        yield LLMUsage(5, 5)


async def stream_real_time(session: RealtimeSession, audio: bytes) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i, offset in enumerate(range(0, len(audio), 960)):
        session.send_audio(audio[offset : offset + 960])
        await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - loop.time()))


async def test_the_answer_is_prepared_during_the_end_of_turn_silence(
    speech: Speech, loaded: None
) -> None:
    model, _, _, llm = watched_model()
    fixed = SessionConfig(turn_detection=TurnDetection("server_vad"))  # Smart Turn not asked
    session, rec = open_session(make_agent(), model, config=fixed)
    async with session:
        # A pause (64 ms of silence) but not the end of the turn (400 ms): the audio stops
        # here, so whatever the machine's speed the turn cannot end before the answer starts.
        session.send_audio(speech.voiced("capital") + silence(200))
        await until(lambda: llm.called("stream"), "no answer was prepared during the pause")
        assert "speech.stopped" not in rec.kinds() and "response.created" not in rec.kinds()
        session.send_audio(silence(800))
        done = await rec.wait_for("response.done", 60)
    assert done.status == "completed"
    kinds = [k for k in rec.kinds() if k != "status.changed"]
    indexes = first_indexes(kinds, ORDER)
    assert indexes == sorted(indexes), [kinds[i] for i in sorted(indexes)]
    assert kinds.count("response.created") == 1
    assert llm.called("stream") == 1  # the prepared answer is the one given
    assert rec.of("transcript.input")[0].item_id == rec.of("audio.input.committed")[0].item_id


async def test_speech_resuming_after_a_short_pause_is_one_turn_and_one_answer(
    speech: Speech, loaded: None
) -> None:
    llm = EchoLLM()
    # A fixed 400 ms silence ends turns here (semantic_vad could end the first sentence).
    fixed = SessionConfig(turn_detection=TurnDetection("server_vad"))
    session, rec = open_session(make_agent(), local.realtime(llm), config=fixed)
    audio = speech.voiced("greeting") + silence(250) + speech.voiced("question") + silence(800)
    async with session:
        await stream_real_time(session, audio)
        done = await rec.wait_for("response.done", 60)
        await asyncio.sleep(0.3)
    assert done.status == "completed"
    kinds = rec.kinds()
    assert kinds.count("speech.started") == 1 and kinds.count("response.created") == 1
    heard = words(rec.of("transcript.input")[0].text)
    assert "morning" in heard and "hear me" in heard
    said = words(rec.of("transcript.output")[0].text)
    assert "morning" in said and "hear me" in said  # the answer is to the whole turn


def test_the_bundled_llm_avoids_the_amx_path_and_trims_long_chats(loaded: None) -> None:
    llm = local.realtime().engines.llm
    assert isinstance(llm, local.LlamaCppLLM)
    assert llm._llama.model_params.use_extra_bufts is False
    chat = []
    for i in range(60):
        chat.append(ChatMessage("user", f"Question {i}: " + "tell me more " * 12))
        chat.append(ChatMessage("assistant", "Here is more. " * 12))
    chat.append(ChatMessage("user", "Say yes."))
    request = LLMRequest(INSTRUCTIONS, chat, max_tokens=100)
    tokens = llm._fitting_prompt(request, (), True)
    assert 1000 < len(tokens) <= llm.n_ctx - 100
    text = llm._llama.detokenize(tokens).decode()
    assert text.rstrip().endswith("Say yes.\nassistant")  # special tokens are not shown
    assert INSTRUCTIONS in text and "Question 0:" not in text


async def test_voice_speed_changes_how_long_the_answer_takes_to_say(loaded: None) -> None:
    durations = []
    for speed in (1.0, 1.6):
        agent = make_agent(voice={"speed": speed})
        session, rec = open_session(agent, local.realtime(EchoLLM()))
        async with session:
            session.send_message("the quick brown fox jumps over the lazy dog")
            await rec.wait_for("response.done", 30)
        audio = b"".join(d.audio for d in rec.of("audio.output.delta"))
        durations.append(len(audio) / (2 * 24000))
    assert durations[1] < 0.8 * durations[0], durations


async def test_settings_the_offline_stack_cannot_honour_are_named_once_in_the_log(
    loaded: None, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent(voice={"voice_id": "marin"})
    config = SessionConfig(transcription=TranscriptionConfig(language="fr"))
    caplog.set_level(logging.WARNING, logger="voicewire.local")
    session, rec = open_session(agent, local.realtime(EchoLLM()), config=config)
    async with session:
        session.update(instructions="Still answer briefly.")  # the same settings again
        session.send_message("hello")
        await rec.wait_for("response.done", 30)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "the local model has one voice (en_US-joe-medium); voice 'marin' is spoken with it",
        "the local model transcribes English only (whisper tiny.en); language 'fr' is transcribed "
        "as English",
    ]
    assert rec.of("audio.output.delta")  # and it answered, with its own voice
