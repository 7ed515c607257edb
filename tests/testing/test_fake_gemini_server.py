"""The fake Gemini Live server driven by a plain ``websockets`` client speaking the raw wire."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voicewire.testing import AudioReply, TextReply, ToolCallReply, silence, tone
from voicewire.testing.fake_gemini import FakeGeminiServer
from voicewire.testing.gemini_validation import validate_gemini_server

pytestmark = pytest.mark.timeout(20)

MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
RATE = 16000
TIMEOUT_S = 5.0
WEATHER_TOOL = {
    "functionDeclarations": [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
        }
    ]
}


def setup_frame(**fields: Any) -> dict[str, Any]:
    return {"setup": {"model": MODEL, **fields}}


def audio_frame(pcm: bytes) -> dict[str, Any]:
    data = base64.b64encode(pcm).decode()
    return {"realtimeInput": {"audio": {"mimeType": f"audio/pcm;rate={RATE}", "data": data}}}


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


async def recv(ws: ClientConnection) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
    frame: dict[str, Any] = json.loads(raw)
    assert validate_gemini_server(frame) == [], frame
    return frame


async def recv_until(ws: ClientConnection, done: Any) -> list[dict[str, Any]]:
    """Frames up to and including the first for which ``done(frame)`` holds."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if done(frame):
            return frames


def turn_complete(frame: dict[str, Any]) -> bool:
    return bool(frame.get("serverContent", {}).get("turnComplete"))


async def speak(ws: ClientConnection, ms_tone: int, ms_silence: int) -> None:
    audio = tone(ms_tone, sample_rate=RATE, amplitude=0.4) + silence(ms_silence, sample_rate=RATE)
    step = 20 * RATE // 1000 * 2
    for start in range(0, len(audio), step):
        await send(ws, audio_frame(audio[start : start + step]))


@asynccontextmanager
async def session(
    server: FakeGeminiServer, *, key: str = "g-test", **setup: Any
) -> AsyncIterator[ClientConnection]:
    async with connect(server.url(), additional_headers={"x-goog-api-key": key}) as ws:
        await send(ws, setup_frame(**setup))
        first = await recv(ws)
        assert first == {"setupComplete": {}}
        yield ws


@pytest.fixture
async def server() -> AsyncIterator[FakeGeminiServer]:
    async with FakeGeminiServer(api_key="g-test") as fake:
        yield fake
    assert fake.own_problems == []


def texts(frames: list[dict[str, Any]], field: str) -> str:
    return "".join(
        f.get("serverContent", {}).get(field, {}).get("text", "")
        for f in frames
        if field in f.get("serverContent", {})
    )


def audio_bytes(frames: list[dict[str, Any]]) -> int:
    total = 0
    for frame in frames:
        for part in frame.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
            if "inlineData" in part:
                assert part["inlineData"]["mimeType"] == "audio/pcm;rate=24000"
                total += len(base64.b64decode(part["inlineData"]["data"]))
    return total


# --- handshake ---------------------------------------------------------------------------------


async def test_key_in_header_or_query_is_accepted_and_frames_are_binary(
    server: FakeGeminiServer,
) -> None:
    async with connect(f"{server.url()}?key=g-test") as ws:
        await send(ws, setup_frame())
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        assert isinstance(raw, bytes)  # Gemini sends JSON in binary frames
        assert json.loads(raw) == {"setupComplete": {}}
    async with session(server):
        pass
    assert server.violations == []
    assert len(server.sessions) == 2


@pytest.mark.parametrize(
    ("headers", "code", "reason"),
    [
        ({"x-goog-api-key": "wrong"}, 1007, "API key not valid"),
        ({}, 1008, "unregistered callers"),
    ],
)
async def test_a_bad_or_missing_key_is_closed_as_gemini_does(
    server: FakeGeminiServer, headers: dict[str, str], code: int, reason: str
) -> None:
    async with connect(server.url(), additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await send(ws, setup_frame())
            await recv(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code
    assert reason in closed.value.rcvd.reason
    assert "wrong" not in closed.value.rcvd.reason  # the key is never echoed
    assert server.sessions == []


async def test_an_unknown_path_is_http_404(server: FakeGeminiServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.base_url}/ws/other"):
            pass
    assert refused.value.response.status_code == 404


async def test_the_first_frame_must_be_setup(server: FakeGeminiServer) -> None:
    async with connect(server.url(), additional_headers={"x-goog-api-key": "g-test"}) as ws:
        await send(ws, {"realtimeInput": {"text": "hi"}})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert server.violations == ["realtimeInput: the first frame must be 'setup'"]


async def test_an_invalid_frame_is_a_violation_and_closes_1007(server: FakeGeminiServer) -> None:
    async with session(server) as ws:
        await send(ws, {"realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": "AA"}}})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert closed.value.rcvd.reason.startswith("Invalid JSON payload received.")
    assert server.violations == ["realtimeInput.audio.data: not padded base64"]


async def test_snake_case_is_accepted_but_recorded(server: FakeGeminiServer) -> None:
    server.script.default = TextReply("hi")
    async with session(server) as ws:
        await send(
            ws,
            {
                "client_content": {
                    "turns": [{"role": "user", "parts": [{"text": "yo"}]}],
                    "turn_complete": True,
                }
            },
        )
        await recv_until(ws, turn_complete)
    assert server.violations == []
    assert server.casing == [
        "client_content: not camelCase (clientContent)",
        "client_content.turn_complete: not camelCase (turnComplete)",
    ]
    assert not server.links[0].pure_camel_case


async def test_strict_casing_makes_snake_case_a_violation() -> None:
    async with FakeGeminiServer(strict_casing=True) as fake, session(fake) as ws:
        await send(ws, {"realtime_input": {"text": "hi"}})
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    assert fake.violations == ["realtime_input: not camelCase (realtimeInput)"]


# --- turns -------------------------------------------------------------------------------------


async def test_a_text_turn_streams_text_parts_then_turn_complete_with_usage(
    server: FakeGeminiServer,
) -> None:
    server.script.on("hello", TextReply("Hi there, friend."))
    async with session(server, generationConfig={"responseModalities": ["TEXT"]}) as ws:
        turn = {"role": "user", "parts": [{"text": "hello"}]}
        await send(ws, {"clientContent": {"turns": [turn], "turnComplete": True}})
        frames = await recv_until(ws, turn_complete)
    parts = [
        p["text"]
        for f in frames
        for p in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    ]
    assert "".join(parts) == "Hi there, friend."
    assert len(parts) == 3  # one part per message, 2.5-style
    assert frames[-2] == {"serverContent": {"generationComplete": True}}
    usage = frames[-1]["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["responseTokenCount"]
    assert server.conversation == [
        turn,
        {"role": "model", "parts": [{"text": "Hi there, friend."}]},
    ]
    assert server.violations == []


async def test_a_spoken_turn_is_heard_by_vad_transcribed_and_answered_in_audio(
    server: FakeGeminiServer,
) -> None:
    server.script.input_transcript = "tell me a story"
    server.script.on("story", AudioReply("Once upon a time.", duration_ms=200))
    async with session(
        server,
        inputAudioTranscription={},
        outputAudioTranscription={},
        realtimeInputConfig={"automaticActivityDetection": {"silenceDurationMs": 200}},
    ) as ws:
        await speak(ws, 300, 300)
        frames = await recv_until(ws, turn_complete)
    assert texts(frames, "inputTranscription") == "tell me a story"
    assert texts(frames, "outputTranscription") == "Once upon a time."
    assert audio_bytes(frames) == 200 * 48
    first_audio = next(i for i, f in enumerate(frames) if "modelTurn" in f.get("serverContent", {}))
    last_input = max(
        i for i, f in enumerate(frames) if "inputTranscription" in f.get("serverContent", {})
    )
    assert last_input < first_audio
    assert len(server.input_audio) == 600 * RATE // 1000 * 2
    assert server.conversation[0] == {"role": "user", "parts": [{"text": "tell me a story"}]}


async def test_bundle_puts_words_with_audio_and_ends_in_one_message() -> None:
    async with FakeGeminiServer(bundle=True) as fake:
        fake.script.default = AudioReply("One two three four.", duration_ms=80, chunk_ms=20)
        async with session(fake, outputAudioTranscription={}) as ws:
            await send(ws, {"realtimeInput": {"text": "go"}})
            frames = await recv_until(ws, turn_complete)
    content = [f["serverContent"] for f in frames if "serverContent" in f]
    assert all("modelTurn" in c and "outputTranscription" in c for c in content[:-1])
    assert content[-1]["generationComplete"] and content[-1]["turnComplete"]
    assert "usageMetadata" in frames[-2] or "usageMetadata" in frames[-1]
    assert texts(frames, "outputTranscription") == "One two three four."
    assert fake.own_problems == []


async def test_manual_activity_turns_and_activity_start_interrupts(
    server: FakeGeminiServer,
) -> None:
    server.script.default = AudioReply("A long answer here.", duration_ms=2000, pace=0.02)
    manual = {"automaticActivityDetection": {"disabled": True}}
    async with session(server, realtimeInputConfig=manual) as ws:
        await send(ws, {"realtimeInput": {"activityStart": {}}})
        await send(ws, audio_frame(tone(100, sample_rate=RATE)))
        await send(ws, {"realtimeInput": {"activityEnd": {}}})
        await recv_until(ws, lambda f: "modelTurn" in f.get("serverContent", {}))
        await send(ws, {"realtimeInput": {"activityStart": {}}})
        frames = await recv_until(ws, turn_complete)
    assert {"serverContent": {"interrupted": True}} in frames
    assert not any(f.get("serverContent", {}).get("generationComplete") for f in frames)
    model_turn = server.conversation[-1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["text"] != "A long answer here."  # only what was said
    assert server.violations == []


async def test_activity_start_with_automatic_detection_is_refused(server: FakeGeminiServer) -> None:
    async with session(server) as ws:
        await send(ws, {"realtimeInput": {"activityStart": {}}})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert server.violations and "activityStart" in server.violations[0]


async def test_speech_interrupts_the_model_through_vad(server: FakeGeminiServer) -> None:
    server.script.default = AudioReply("A long answer.", duration_ms=3000, pace=0.02)
    async with session(server) as ws:
        await send(ws, {"realtimeInput": {"text": "talk"}})
        await recv_until(ws, lambda f: "modelTurn" in f.get("serverContent", {}))
        await send(ws, audio_frame(tone(50, sample_rate=RATE)))
        frames = await recv_until(ws, lambda f: f.get("serverContent", {}).get("interrupted"))
        after = await recv(ws)
    assert turn_complete(after)
    assert audio_bytes(frames) < 3000 * 48


# --- tools -------------------------------------------------------------------------------------


async def test_tool_call_and_response_continue_the_turn(server: FakeGeminiServer) -> None:
    server.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("Sunny in Paris.")),
    )
    async with session(server, tools=[WEATHER_TOOL]) as ws:
        await send(ws, {"realtimeInput": {"text": "weather in Paris?"}})
        call = await recv_until(ws, lambda f: "toolCall" in f)
        function_call = call[-1]["toolCall"]["functionCalls"][0]
        assert function_call["name"] == "get_weather"
        assert function_call["args"] == {"city": "Paris"}
        assert not any(turn_complete(f) for f in call)  # the turn stays open
        response = {
            "id": function_call["id"],
            "name": "get_weather",
            "response": {"output": "sunny"},
        }
        await send(ws, {"toolResponse": {"functionResponses": [response]}})
        frames = await recv_until(ws, turn_complete)
    parts = "".join(
        p.get("text", "")
        for f in frames
        for p in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    )
    assert parts == "Sunny in Paris."
    assert server.undeclared_tool_calls == []
    assert server.violations == []


async def test_barge_in_during_a_tool_call_cancels_it(server: FakeGeminiServer) -> None:
    server.script.default = ToolCallReply("get_weather", {"city": "Rome"})
    async with session(server, tools=[WEATHER_TOOL]) as ws:
        await send(ws, {"realtimeInput": {"text": "weather?"}})
        call = (await recv_until(ws, lambda f: "toolCall" in f))[-1]
        call_id = call["toolCall"]["functionCalls"][0]["id"]
        await send(ws, audio_frame(tone(50, sample_rate=RATE)))
        frames = await recv_until(ws, turn_complete)
    assert frames[0] == {"toolCallCancellation": {"ids": [call_id]}}
    assert frames[1] == {"serverContent": {"interrupted": True}}


async def test_a_non_object_function_response_is_refused_1007(server: FakeGeminiServer) -> None:
    server.script.default = ToolCallReply("get_weather", {"city": "Rome"})
    async with session(server, tools=[WEATHER_TOOL]) as ws:
        await send(ws, {"realtimeInput": {"text": "weather?"}})
        call = (await recv_until(ws, lambda f: "toolCall" in f))[-1]
        call_id = call["toolCall"]["functionCalls"][0]["id"]
        bad = {"id": call_id, "name": "get_weather", "response": "sunny"}
        await send(ws, {"toolResponse": {"functionResponses": [bad]}})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert server.violations


async def test_a_3x_model_refuses_mid_session_client_content(server: FakeGeminiServer) -> None:
    server.script.default = TextReply("ok")
    async with connect(server.url(), additional_headers={"x-goog-api-key": "g-test"}) as ws:
        setup = {
            "model": "models/gemini-3.1-flash-live-preview",
            "historyConfig": {"initialHistoryInClientContent": True},
        }
        await send(ws, {"setup": setup})
        await recv(ws)
        history = {
            "turns": [{"role": "user", "parts": [{"text": "earlier"}]}],
            "turnComplete": True,
        }
        await send(ws, {"clientContent": history})  # initial history: accepted, no reply
        await send(ws, {"realtimeInput": {"text": "now"}})
        await recv_until(ws, turn_complete)
        await send(ws, {"clientContent": history})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert server.session.turns[0]["parts"][0]["text"] == "earlier"


# --- resumption and controls -------------------------------------------------------------------


async def test_resumption_continues_the_conversation_from_the_handle(
    server: FakeGeminiServer,
) -> None:
    server.script.default = TextReply("noted")
    async with session(server, sessionResumption={}) as ws:
        first = await recv(ws)
        assert first["sessionResumptionUpdate"]["resumable"] is True
        await send(ws, {"realtimeInput": {"text": "remember blue"}})
        frames = await recv_until(
            ws, lambda f: f.get("sessionResumptionUpdate", {}).get("newHandle")
        )
        assert {"sessionResumptionUpdate": {"resumable": False}} in frames
        handle = frames[-1]["sessionResumptionUpdate"]["newHandle"]
    async with session(server, sessionResumption={"handle": handle}) as ws:
        await recv(ws)
        await send(ws, {"realtimeInput": {"text": "and red"}})
        await recv_until(ws, turn_complete)
    assert len(server.sessions) == 1
    texts_said = [t["parts"][0]["text"] for t in server.conversation]
    assert texts_said == ["remember blue", "noted", "and red", "noted"]
    assert server.links[1].resumed_from == handle


async def test_resuming_while_the_old_socket_is_open_is_closed_1011(
    server: FakeGeminiServer,
) -> None:
    async with session(server, sessionResumption={}) as old:
        handle = (await recv(old))["sessionResumptionUpdate"]["newHandle"]
        async with connect(server.url(), additional_headers={"x-goog-api-key": "g-test"}) as new:
            await send(new, setup_frame(sessionResumption={"handle": handle}))
            with pytest.raises(ConnectionClosed) as closed:
                await recv(new)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_go_away_then_a_real_close_when_time_is_up(server: FakeGeminiServer) -> None:
    async with session(server) as ws:
        await server.go_away("0.2s")
        assert await recv(ws) == {"goAway": {"timeLeft": "0.2s"}}
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "Deadline expired" in closed.value.rcvd.reason


async def test_drop_connections_sends_no_close_frame(server: FakeGeminiServer) -> None:
    async with session(server) as ws:
        await server.drop_connections()
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is None  # 1006: no close frame


async def test_close_with_code_and_reason(server: FakeGeminiServer) -> None:
    async with session(server) as ws:
        await server.close_with(1011, "Internal error encountered.")
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        1011,
        "Internal error encountered.",
    )


async def test_slow_pongs_are_held_but_not_lost() -> None:
    async with FakeGeminiServer(pong_delay=1.0) as fake, session(fake) as ws:
        fake.script.default = TextReply("quick")
        pong = await ws.ping()
        await send(ws, {"realtimeInput": {"text": "hi"}})
        await recv_until(ws, turn_complete)
        assert not pong.done()  # a whole turn went by, the pong is still held
        await asyncio.wait_for(pong, TIMEOUT_S)


async def test_received_is_recorded_per_link_and_overall(server: FakeGeminiServer) -> None:
    async with session(server) as ws:
        await send(ws, audio_frame(silence(20, sample_rate=RATE)))
        await server.wait_until(lambda: len(server.received) == 2)
    assert [next(iter(f)) for f in server.links[0].received] == ["setup", "realtimeInput"]
    assert server.received == server.links[0].received
    assert server.session.audio_frames == [silence(20, sample_rate=RATE)]


async def test_resuming_drops_what_came_after_the_handle(server: FakeGeminiServer) -> None:
    """The handle is the session's state when it was issued: audio sent after it must be sent
    again, and then the session holds each frame once."""
    async with session(server, sessionResumption={}) as ws:
        handle = (await recv(ws))["sessionResumptionUpdate"]["newHandle"]
        await send(ws, audio_frame(b"\x01\x00" * 160))
        await send(ws, audio_frame(b"\x02\x00" * 160))
        await server.wait_until(lambda: len(server.session.audio_frames) == 2)
    async with session(server, sessionResumption={"handle": handle}) as ws:
        await send(ws, audio_frame(b"\x01\x00" * 160))
        await send(ws, audio_frame(b"\x02\x00" * 160))
        await server.wait_until(lambda: len(server.links[1].received) == 3)
    assert server.session.audio_frames == [b"\x01\x00" * 160, b"\x02\x00" * 160]
    assert server.input_audio == b"\x01\x00" * 160 + b"\x02\x00" * 160


async def test_latency_delays_what_the_server_sends_but_keeps_its_order() -> None:
    async with FakeGeminiServer(latency=1.0) as fake, session(fake) as ws:
        fake.script.default = TextReply("one two three")
        await send(ws, {"realtimeInput": {"text": "go"}})
        await fake.wait_until(lambda: any(turn_complete(f) for f in fake.sent))
        # everything was sent, yet nothing arrived: it is on the wire
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.05)
        closing = asyncio.create_task(fake.close_with(1011, "bye"))  # after what is on the wire
        frames = await recv_until(ws, turn_complete)
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        await closing
    parts = [
        p["text"]
        for f in frames
        for p in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    ]
    assert "".join(parts) == "one two three"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_a_lingering_drop_refuses_a_resume_until_noticed(server: FakeGeminiServer) -> None:
    async with session(server, sessionResumption={}) as ws:
        handle = (await recv(ws))["sessionResumptionUpdate"]["newHandle"]
        await server.drop_connections(linger=60)
    headers = {"x-goog-api-key": "g-test"}
    async with connect(server.url(), additional_headers=headers) as ws:
        await send(ws, setup_frame(sessionResumption={"handle": handle}))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    server.links[0].lingers_until = 0.0  # the server notices
    async with session(server, sessionResumption={"handle": handle}):
        pass
    assert server.links[2].resumed_from == handle
    assert server.violations == []  # the client could not know


@pytest.mark.parametrize(
    ("raw", "violation"),
    [
        ("{not json", "<frame>: not JSON"),
        ("[1, 2]", "<frame>: not a JSON object"),
        (b"\xff\xfe", "<frame>: not JSON"),
        (json.dumps(setup_frame()), "setup: sent twice on one socket"),
    ],
)
async def test_hostile_frames_are_closed_1007_and_recorded(
    server: FakeGeminiServer, raw: str | bytes, violation: str
) -> None:
    async with session(server) as ws:
        await ws.send(raw)
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert server.violations == [violation]


async def test_binary_json_frames_are_taken_like_text(server: FakeGeminiServer) -> None:
    server.script.default = TextReply("ok")
    async with session(server) as ws:
        await ws.send(json.dumps({"realtimeInput": {"text": "hi"}}).encode())
        frames = await recv_until(ws, turn_complete)
    assert frames and server.violations == []
