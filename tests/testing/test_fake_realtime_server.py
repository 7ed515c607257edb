"""End-to-end tests of the fake realtime server, driven by a plain ``websockets`` client."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from voicewire.testing import (
    AudioReply,
    FakeRealtimeServer,
    TextReply,
    ToolCallReply,
    openai_available,
    silence,
    tone,
    validate_server_event,
)
from voicewire.testing.tones import pcm16_to_alaw

RATE = 24000
TIMEOUT_S = 5.0
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


class Client:
    """A bare Realtime client: JSON in, JSON out, every received event kept."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(TIMEOUT_S):
            raw = await self.ws.recv()
        event: dict[str, Any] = json.loads(raw)
        self.events.append(event)
        return event

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        """Receive events up to and including the first ``event_type``; return them all."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                event = await self.recv()
                got.append(event)
                if event["type"] == event_type:
                    return got

    async def speak(self, pcm: bytes, chunk_ms: int = 20) -> None:
        step = RATE * chunk_ms // 1000 * 2
        for start in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[start : start + step]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})


@asynccontextmanager
async def client_for(
    server: FakeRealtimeServer,
    *,
    model: str = "gpt-realtime",
    key: str | None = "sk-test",
    subprotocols: Sequence[str] | None = None,
    greet: bool = True,
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else None
    async with connect(
        server.url(model),
        additional_headers=headers,
        subprotocols=[Subprotocol(name) for name in subprotocols] if subprotocols else None,
        open_timeout=5,
        close_timeout=2,
    ) as ws:
        client = Client(ws)
        if greet:
            await client.until(
                "session.updated" if server.dialect.name == "xai" else "session.created"
            )
        yield client


def types(events: Sequence[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def audio_bytes(events: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )


def deltas(events: Sequence[dict[str, Any]], event_type: str) -> str:
    return "".join(e["delta"] for e in events if e["type"] == event_type)


def assert_all_sent_valid(server: FakeRealtimeServer) -> None:
    problems = {
        f"{i}:{event['type']}": found
        for i, event in enumerate(server.sent)
        if (found := validate_server_event(event))
    }
    assert problems == {}


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(dialect="openai", api_key="sk-test") as fake:
        yield fake
        assert_all_sent_valid(fake)


@pytest.fixture
async def xai_server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(dialect="xai", api_key="xai-test") as fake:
        yield fake


async def audio_session(client: Client, **input_extra: Any) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": [WEATHER_TOOL],
                "audio": {
                    "input": {"transcription": {"model": "gpt-4o-transcribe"}, **input_extra}
                },
            },
        }
    )
    await client.until("session.updated")


# --- handshake -----------------------------------------------------------------------------------


async def test_bearer_key_is_accepted_and_session_created_comes_first(
    server: FakeRealtimeServer,
) -> None:
    async with client_for(server, model="gpt-realtime-2", greet=False) as client:
        first = await client.recv()
    assert first["type"] == "session.created"
    session = first["session"]
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime-2"
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert server.connection_count == 1
    assert server.last_model == "gpt-realtime-2"
    assert server.last_headers is not None
    assert server.last_headers["authorization"] == "Bearer sk-test"


async def test_bad_key_is_refused_with_401_and_json_body(server: FakeRealtimeServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with client_for(server, key="sk-wrong"):
            pass
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body)["error"]["code"] == "invalid_api_key"
    with pytest.raises(InvalidStatus) as missing:
        async with client_for(server, key=None):
            pass
    assert missing.value.response.status_code == 401
    assert server.connection_count == 0


async def test_subprotocol_token_is_accepted_and_realtime_selected(
    server: FakeRealtimeServer,
) -> None:
    server.valid_tokens.add("ek_ephemeral")
    offered = ["realtime", "openai-insecure-api-key.ek_ephemeral"]
    async with client_for(server, key=None, subprotocols=offered) as client:
        assert client.ws.subprotocol == "realtime"
    assert server.last_subprotocol == "realtime"
    with pytest.raises(InvalidStatus) as refused:
        async with client_for(
            server, key=None, subprotocols=["realtime", "openai-insecure-api-key.x"]
        ):
            pass
    assert refused.value.response.status_code == 401


async def test_missing_model_or_wrong_path_is_400(server: FakeRealtimeServer) -> None:
    headers = {"Authorization": "Bearer sk-test"}
    for url in (f"{server.base_url}/realtime", f"{server.base_url}/elsewhere?model=m"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers, open_timeout=5):
                pass
        assert refused.value.response.status_code == 400


async def test_xai_token_subprotocol_and_conversation_created_first(
    xai_server: FakeRealtimeServer,
) -> None:
    offered = ["xai-client-secret.xai-test"]
    async with client_for(xai_server, key=None, subprotocols=offered, greet=False) as client:
        assert client.ws.subprotocol == "xai-client-secret.xai-test"
        first, second = await client.recv(), await client.recv()
    assert first["type"] == "conversation.created"
    assert second["type"] == "session.updated"
    assert "type" not in second["session"]
    assert second["session"]["voice"] == "ara"
    assert second["session"]["turn_detection"]["type"] == "server_vad"
    assert "voice" not in second["session"]["audio"]["output"]


# --- turns ---------------------------------------------------------------------------------------


async def test_text_turn(server: FakeRealtimeServer) -> None:
    server.script.on("capital", TextReply("Paris is the capital."))
    async with client_for(server) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"]},
            }
        )
        updated = await client.until("session.updated")
        assert updated[-1]["session"]["output_modalities"] == ["text"]
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "What is the CAPITAL of France?"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
    assert types(events)[:2] == ["conversation.item.added", "conversation.item.done"]
    assert types(events[2:6]) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert types(events[-5:]) == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    assert deltas(events, "response.output_text.delta") == "Paris is the capital."
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"] == [
        {"type": "output_text", "text": "Paris is the capital."}
    ]
    assert done["usage"]["total_tokens"] > 0
    assert [item["role"] for item in server.conversation] == ["user", "assistant"]
    assert server.violations == []


async def test_audio_turn_with_energy_vad(server: FakeRealtimeServer) -> None:
    server.script.input_transcript = "what's the weather in paris"
    server.script.on("hello", TextReply("wrong rule"))
    server.script.default = AudioReply("Nice to hear you.", duration_ms=400)
    async with client_for(server) as client:
        await audio_session(client)
        spoken = silence(100) + tone(300) + silence(300)
        await client.speak(spoken)
        events = await client.until("response.done")
    names = types(events)
    assert names[:7] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.delta",
    ]
    started, stopped = events[0], events[1]
    assert started["item_id"] == stopped["item_id"] == events[2]["item_id"]
    assert 0 <= started["audio_start_ms"] <= 100
    assert 500 <= stopped["audio_end_ms"] <= 600
    completed = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert completed["transcript"] == "what's the weather in paris"
    assert deltas(events, "conversation.item.input_audio_transcription.delta") == (
        "what's the weather in paris"
    )
    assert len(audio_bytes(events)) == RATE * 2 * 400 // 1000
    assert deltas(events, "response.output_audio_transcript.delta") == "Nice to hear you."
    assert names.index("response.output_audio.done") < names.index(
        "response.output_audio_transcript.done"
    )
    assert events[-1]["response"]["status"] == "completed"
    assert events[-1]["response"]["usage"]["input_token_details"]["audio_tokens"] > 0
    assert bytes(server.input_audio) == spoken
    assert server.violations == []


async def test_no_transcription_events_unless_configured(server: FakeRealtimeServer) -> None:
    async with client_for(server) as client:
        await client.speak(tone(200) + silence(250))
        events = await client.until("response.done")
    assert not any("input_audio_transcription" in name for name in types(events))


async def test_tool_call_then_reply(server: FakeRealtimeServer) -> None:
    server.script.input_transcript = "what's the weather in paris"
    server.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=AudioReply("It is sunny.")),
    )
    async with client_for(server) as client:
        await audio_session(client)
        await client.speak(tone(200) + silence(250))
        events = await client.until("response.done")
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert done["name"] == "get_weather"
        assert json.loads(done["arguments"]) == {"city": "Paris"}
        assert deltas(events, "response.function_call_arguments.delta") == done["arguments"]
        call = events[-1]["response"]["output"][0]
        assert call["type"] == "function_call"
        assert call["call_id"] == done["call_id"]
        assert call["status"] == "completed"
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": done["call_id"],
                    "output": json.dumps({"sky": "clear"}),
                },
            }
        )
        await client.send({"type": "response.create"})
        after = await client.until("response.done")
    assert deltas(after, "response.output_audio_transcript.delta") == "It is sunny."
    assert after[-1]["response"]["status"] == "completed"
    kinds = [item["type"] for item in server.conversation]
    assert kinds == ["message", "function_call", "function_call_output", "message"]
    assert server.undeclared_tool_calls == []
    assert server.violations == []


async def test_barge_in_cancels_a_paced_response(server: FakeRealtimeServer) -> None:
    long_answer = AudioReply("A very long answer that gets cut off.", duration_ms=3000, pace=0.02)
    server.script.on("story", long_answer)
    server.script.default = AudioReply("Yes?", duration_ms=100)
    async with client_for(server) as client:
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "tell me a story"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        head: list[dict[str, Any]] = []
        while len([e for e in head if e["type"] == "response.output_audio.delta"]) < 5:
            head.append(await client.recv())
        await client.speak(tone(100))
        events = head + await client.until("response.done")
        names = types(events)
        assert names.index("input_audio_buffer.speech_started") < names.index("response.done")
        for name in (
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
        ):
            assert name in names
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
        assert done["output"][0]["status"] == "incomplete"
        assert len(audio_bytes(events)) < RATE * 2 * 3  # far less than the 3 s scripted
        # The user's turn then ends and gets its own response.
        await client.speak(silence(250))
        after = await client.until("response.done")
        assert after[-1]["response"]["status"] == "completed"


async def test_response_cancel_by_client(server: FakeRealtimeServer) -> None:
    server.script.default = AudioReply("Long.", duration_ms=2000, pace=0.02)
    async with client_for(server) as client:
        await client.send({"type": "response.cancel", "event_id": "evt_c1"})
        error = (await client.until("error"))[-1]
        assert error["error"]["code"] == "response_cancel_not_active"
        assert error["error"]["event_id"] == "evt_c1"
        await client.send({"type": "response.create"})
        created = (await client.until("response.created"))[-1]
        await client.send({"type": "response.create"})
        busy = (await client.until("error"))[-1]
        assert busy["error"]["code"] == "conversation_already_has_active_response"
        await client.send({"type": "response.cancel", "response_id": created["response"]["id"]})
        done = (await client.until("response.done"))[-1]
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "client_cancelled"


async def test_truncate_is_checked_against_audio_sent(server: FakeRealtimeServer) -> None:
    server.script.default = AudioReply("Hello there.", duration_ms=600)
    async with client_for(server) as client:
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        item_id = events[-1]["response"]["output"][0]["id"]
        truncate = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
        await client.send({**truncate, "audio_end_ms": 300})
        truncated = (await client.until("conversation.item.truncated"))[-1]
        assert truncated["audio_end_ms"] == 300
        await client.send({**truncate, "audio_end_ms": 5000, "event_id": "evt_t2"})
        error = (await client.until("error"))[-1]
    assert error["error"]["param"] == "audio_end_ms"
    assert error["error"]["event_id"] == "evt_t2"
    assert "600ms" in error["error"]["message"]
    assert server.errors == [error]
    assert len(server.violations) == 1
    assert "audio_end_ms" in server.violations[0]


async def test_malformed_json_and_unknown_type_get_errors_and_serving_goes_on(
    server: FakeRealtimeServer,
) -> None:
    async with client_for(server) as client:
        await client.ws.send("not json")
        assert (await client.until("error"))[-1]["error"]["code"] == "invalid_json"
        await client.send({"type": "conversation.frobnicate", "event_id": "evt_u1"})
        error = (await client.until("error"))[-1]["error"]
        assert error["type"] == "invalid_request_error"
        assert error["event_id"] == "evt_u1"
        assert error["param"] == "type"
        await client.send({"type": "input_audio_buffer.append", "audio": "***not base64***"})
        assert (await client.until("error"))[-1]["error"]["param"] == "audio"
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))[-1]
    assert done["response"]["status"] == "completed"
    assert any("malformed JSON" in v for v in server.violations)
    assert any("conversation.frobnicate" in v for v in server.violations)
    assert len(server.violations) == 3


@pytest.mark.skipif(not openai_available(), reason="openai is not installed")
async def test_violations_catch_unknown_keys_and_the_event_is_refused(
    server: FakeRealtimeServer,
) -> None:
    async with client_for(server) as client:
        await client.send(
            {
                "type": "session.update",
                "event_id": "evt_s1",
                "session": {
                    "type": "realtime",
                    "instructions": "Be brief.",
                    "audio": {"output": {"voice": "cedar", "volume": 11}},
                },
            }
        )
        error = (await client.until("error"))[-1]["error"]
        await client.send({"type": "session.update", "session": {"instructions": "x"}})
        missing = (await client.until("error"))[-1]["error"]
    assert error["code"] == "unknown_parameter"
    assert error["param"] == "session.audio.output.volume"
    assert error["event_id"] == "evt_s1"
    assert missing["code"] == "missing_required_parameter"
    assert missing["param"] == "session.type"
    assert server.violations[0] == "session.update: session.audio.output.volume: unknown key"
    assert server.session["instructions"] != "Be brief."  # not applied
    assert "session.updated" not in server.sent_types()


async def test_manual_turns_commit_and_clear(server: FakeRealtimeServer) -> None:
    async with client_for(server) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
            }
        )
        updated = (await client.until("session.updated"))[-1]
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        await client.speak(tone(50))
        await client.send({"type": "input_audio_buffer.commit"})
        assert (await client.until("error"))[-1]["error"][
            "code"
        ] == "input_audio_buffer_commit_empty"
        await client.speak(tone(200))
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.until("conversation.item.done")
        assert types(committed) == [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        await client.speak(tone(200))
        await client.send({"type": "input_audio_buffer.clear"})
        await client.until("input_audio_buffer.cleared")
        await client.send({"type": "input_audio_buffer.commit"})
        assert (await client.until("error"))[-1]["error"][
            "code"
        ] == "input_audio_buffer_commit_empty"
        await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = (await client.until("response.done"))[-1]
    assert "speech_started" not in " ".join(types(client.events))
    assert done["response"]["output_modalities"] == ["text"]
    assert done["response"]["output"][0]["content"][0]["type"] == "output_text"


async def test_item_delete_and_out_of_band_response(server: FakeRealtimeServer) -> None:
    async with client_for(server) as client:
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "id": "item_mine",
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            }
        )
        await client.until("conversation.item.done")
        await client.send({"type": "response.create", "response": {"conversation": "none"}})
        events = await client.until("response.done")
        assert "conversation.item.added" not in types(events)
        assert events[-1]["response"]["conversation_id"] is None
        await client.send({"type": "conversation.item.delete", "item_id": "item_mine"})
        deleted = (await client.until("conversation.item.deleted"))[-1]
        await client.send({"type": "conversation.item.delete", "item_id": "item_mine"})
        await client.until("error")
    assert deleted["item_id"] == "item_mine"
    assert server.conversation == []


async def test_g711_output_format(server: FakeRealtimeServer) -> None:
    server.script.default = AudioReply("Beep.", duration_ms=200)
    async with client_for(server) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"output": {"format": {"type": "audio/pcmu"}}},
                },
            }
        )
        await client.until("session.updated")
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
    assert len(audio_bytes(events)) == 8000 * 200 // 1000
    assert events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}


async def test_send_event_send_raw_and_drop_connections(server: FakeRealtimeServer) -> None:
    async with client_for(server) as client:
        await server.send_raw("not json")
        assert await client.ws.recv() == "not json"
        await server.send_event({"type": "input_audio_buffer.cleared"})
        sent = await client.recv()
        assert sent["type"] == "input_audio_buffer.cleared"
        assert sent["event_id"]
        await client.send({"type": "response.cancel"})
        assert (await server.wait_for_received("response.cancel"))["type"] == "response.cancel"
        await server.drop_connections()
        await client.ws.wait_closed()
        assert client.ws.close_code == 1011
    async with client_for(server):
        pass
    assert server.connection_count == 2


async def test_undeclared_tool_calls_are_reported(server: FakeRealtimeServer) -> None:
    server.script.default = ToolCallReply("launch_rocket")
    async with client_for(server) as client:
        await client.send({"type": "response.create"})
        await client.until("response.done")
    assert server.undeclared_tool_calls == ["launch_rocket"]


# --- xAI -----------------------------------------------------------------------------------------


async def test_xai_text_and_session_dialect(xai_server: FakeRealtimeServer) -> None:
    xai_server.script.default = TextReply("Hi from Grok.")
    async with client_for(xai_server, key="xai-test", model="grok-voice-latest") as client:
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "voice": "rex",
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            }
        )
        session = (await client.until("session.updated"))[-1]["session"]
        assert session["voice"] == "rex"
        assert session["turn_detection"]["silence_duration_ms"] == 300
        assert "type" not in session
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": events[-1]["response"]["output"][0]["id"],
                "content_index": 0,
                "audio_end_ms": 0,
            }
        )
        error = (await client.until("error"))[-1]
    names = types(events)
    assert "conversation.item.done" not in names
    assert deltas(events, "response.text.delta") == "Hi from Grok."
    assert "response.text.done" in names
    assert events[0]["previous_item_id"] is None
    assert error["error"]["code"] == "unsupported_event"
    assert xai_server.violations == ["conversation.item.truncate: not supported by xai"]


async def test_xai_audio_turn_at_16k(xai_server: FakeRealtimeServer) -> None:
    xai_server.script.input_transcript = "hola"
    async with client_for(xai_server, key="xai-test") as client:
        fmt = {"type": "audio/pcm", "rate": 16000}
        await client.send(
            {"type": "session.update", "session": {"audio": {"input": {"format": fmt}}}}
        )
        await client.until("session.updated")
        pcm = tone(200, sample_rate=16000) + silence(250, sample_rate=16000)
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )
        events = await client.until("response.done")
    completed = [
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    ]
    assert [e["transcript"] for e in completed] == ["hola"]
    assert "conversation.item.input_audio_transcription.delta" not in types(events)
    assert xai_server.violations == []


# --- validation and lifecycle --------------------------------------------------------------------


@pytest.mark.skipif(not openai_available(), reason="openai is not installed")
def test_validator_rejects_a_server_event_with_an_unknown_key() -> None:
    good = {"type": "input_audio_buffer.cleared", "event_id": "event_1"}
    assert validate_server_event(good) == []
    assert validate_server_event({**good, "extra": True}) == ["extra: unknown key"]
    assert validate_server_event({"type": "response.done", "event_id": "e"}) == [
        "response: missing required key"
    ]


async def test_close_leaves_no_tasks_behind() -> None:
    before = asyncio.all_tasks()
    async with FakeRealtimeServer() as fake:
        fake.script.default = AudioReply("Long.", duration_ms=5000, pace=0.02)
        async with client_for(fake) as client:
            await client.send({"type": "response.create"})
            await client.until("response.output_audio.delta")
            await fake.close()
            await client.ws.wait_closed()
    assert asyncio.all_tasks() - before == set()


async def test_g711_input_is_decoded_for_vad(server: FakeRealtimeServer) -> None:
    async with client_for(server) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcma"}}},
                },
            }
        )
        await client.until("session.updated")
        law = pcm16_to_alaw(tone(200, sample_rate=8000) + silence(250, sample_rate=8000))
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(law).decode()}
        )
        events = await client.until("response.done")
    assert types(events)[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    assert bytes(server.input_audio) == law


def _create_message(item_id: str, previous: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "conversation.item.create",
        "item": {
            "id": item_id,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": item_id}],
        },
    }
    if previous is not None:
        event["previous_item_id"] = previous
    return event


async def test_items_keep_their_place(server: FakeRealtimeServer) -> None:
    async with client_for(server) as client:
        added: list[tuple[str, str | None]] = []
        for item_id, previous in (("a", None), ("c", None), ("b", "a"), ("r", "root")):
            await client.send(_create_message(item_id, previous))
            done = (await client.until("conversation.item.done"))[-1]
            added.append((done["item"]["id"], done["previous_item_id"]))
        assert added == [("a", None), ("c", "a"), ("b", "a"), ("r", None)]
        assert [item["id"] for item in server.conversation] == ["r", "a", "b", "c"]

        await client.send(_create_message("b"))
        clash = (await client.until("error"))[-1]
        await client.send(_create_message("x", "missing"))
        unknown = (await client.until("error"))[-1]
        assert (clash["error"]["code"], unknown["error"]["code"]) == (
            "item_already_exists",
            "item_not_found",
        )

        await client.send({"type": "conversation.item.retrieve", "item_id": "b"})
        retrieved = (await client.until("conversation.item.retrieved"))[-1]
        assert retrieved["item"]["content"][0]["text"] == "b"
        await client.send({"type": "conversation.item.delete", "item_id": "b"})
        await client.until("conversation.item.deleted")
    assert [item["id"] for item in server.conversation] == ["r", "a", "c"]
