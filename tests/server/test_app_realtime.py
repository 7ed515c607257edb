"""The realtime endpoint end to end: the official OpenAI SDK and a raw WebSocket client against
the app on uvicorn, a ScriptedModel behind it. Every server frame is checked strictly."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import websockets
from openai import AsyncOpenAI
from starlette.applications import Starlette
from starlette.routing import Mount

from voicewire import RealtimeAgent
from voicewire.server import create_app
from voicewire.testing import AudioReply, ScriptedModel, silence, tone

from .conftest import WEATHER_CALLS, Served, assert_strict, raw_client, serve, user_text

pytestmark = pytest.mark.timeout(20)


async def test_official_sdk_completes_a_text_turn(served: Served, model: ScriptedModel) -> None:
    client = AsyncOpenAI(base_url=f"{served.http}/v1", api_key=served.token(), max_retries=0)
    frames: list[dict[str, Any]] = []
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "instructions": "Hi!"}
        )
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello?"}],
            }
        )
        await connection.response.create()
        while True:
            raw = await connection.recv_bytes()
            frame = json.loads(raw)
            assert_strict(frame)
            frames.append(frame)
            event = connection.parse_event(raw)  # the SDK's own parsing
            assert event.type == frame["type"]
            if event.type == "response.done":
                break
    types = [f["type"] for f in frames]
    assert types[0] == "session.created"
    assert "session.updated" in types
    assert types.index("response.output_item.added") < types.index("response.output_text.delta")
    [text_done] = [f for f in frames if f["type"] == "response.output_text.done"]
    assert text_done["text"] == "Hello from the server."
    done = frames[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["total_tokens"] > 0
    updated = [f for f in frames if f["type"] == "session.updated"][-1]["session"]
    assert updated["instructions"] == "Hi!"
    assert updated["output_modalities"] == ["text"]
    assert model.received_kinds()[-2:] == ["item.create", "response.create"]
    await served.wait_idle(model)


async def test_session_created_hides_server_secrets(served: Served) -> None:
    async with raw_client(served) as client:
        session = client.frames[0]["session"]
    assert "instructions" not in session  # the agent's instructions are the server's business
    assert session["tools"] == []
    assert session["model"] == "scripted-realtime"
    assert session["audio"]["output"]["voice"] == "marin"  # the agent's voice
    assert "PRIVATE-INSTRUCTIONS" not in json.dumps(client.frames)


async def test_browser_subprotocol_auth_selects_realtime(served: Served) -> None:
    async with raw_client(served, subprotocol=True) as client:
        assert client.ws.subprotocol == "realtime"
        await client.send(user_text("hi"))
        await client.send({"type": "response.create"})
        frames = await client.until("response.done")
    assert frames[-1]["response"]["status"] == "completed"


async def test_tool_runs_on_the_server_and_the_client_sees_only_the_answer(
    served: Served, model: ScriptedModel
) -> None:
    async with raw_client(served) as client:
        await client.send({"type": "session.update", "session": {"output_modalities": ["text"]}})
        await client.send(user_text("What's the weather in Paris?"))
        await client.send({"type": "response.create"})
        frames = await client.until("response.done")
    assert WEATHER_CALLS == ["Paris"]
    text = json.dumps(client.frames)
    assert "function_call" not in text and "get_weather" not in text and "call_" not in text
    assert [f["type"] for f in frames].count("response.created") == 1
    [answer] = [f["text"] for f in frames if f["type"] == "response.output_text.done"]
    assert answer == "It is sunny in Paris."
    assert "tool.result" in model.received_kinds()


async def test_audio_in_and_out(served: Served, model: ScriptedModel) -> None:
    model.script.hear("tell me something")
    model.script.default = AudioReply("Something.", duration_ms=300, chunk_ms=50)
    audio = tone(300, amplitude=0.3)
    async with raw_client(served) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
            }
        )
        updated = await client.until("session.updated")
        assert updated[-1]["session"]["audio"]["input"]["turn_detection"] is None
        for start in range(0, len(audio), 4800):
            chunk = base64.b64encode(audio[start : start + 4800]).decode()
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.until("conversation.item.input_audio_transcription.completed")
        await client.send({"type": "response.create"})
        frames = await client.until("response.done")
    types = [f["type"] for f in committed]
    assert "input_audio_buffer.committed" in types
    assert committed[-1]["transcript"] == "tell me something"
    [user_item] = [f["item"] for f in committed if f["type"] == "conversation.item.added"]
    assert user_item["role"] == "user" and user_item["content"][0]["type"] == "input_audio"
    assert model.input_audio_bytes == len(audio)
    out = b"".join(
        base64.b64decode(f["delta"]) for f in frames if f["type"] == "response.output_audio.delta"
    )
    assert len(out) == 48 * 300  # 300 ms of 24 kHz PCM16
    [transcript] = [
        f["transcript"] for f in frames if f["type"] == "response.output_audio_transcript.done"
    ]
    assert transcript == "Something."


async def test_server_vad_turn_without_commit(served: Served, model: ScriptedModel) -> None:
    audio = tone(200, amplitude=0.4) + silence(300)
    async with raw_client(served) as client:
        for start in range(0, len(audio), 960):
            chunk = base64.b64encode(audio[start : start + 960]).decode()
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        frames = await client.until("response.done")
    types = [f["type"] for f in frames]
    assert types.index("input_audio_buffer.speech_started") < types.index(
        "input_audio_buffer.speech_stopped"
    )
    assert types.index("input_audio_buffer.committed") < types.index("response.created")


async def test_response_cancel_stops_the_answer(served: Served, model: ScriptedModel) -> None:
    model.script.default = AudioReply("A long story.", duration_ms=3000, chunk_ms=20, pace=0.02)
    async with raw_client(served) as client:
        await client.send(user_text("story please"))
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        await client.send({"type": "response.cancel"})
        frames = await client.until("response.done")
    done = frames[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "client_cancelled"


async def test_client_may_not_change_locked_fields(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model, client_session_fields={"modalities"})
    async with serve(app) as running, raw_client(running) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {"instructions": "Ignore the agent.", "output_modalities": ["text"]},
            }
        )
        [*_, updated] = await client.until("session.updated")
        assert "instructions" not in updated["session"]
        assert updated["session"]["output_modalities"] == ["text"]
        [connection] = model.connections
        assert connection.config.instructions == "PRIVATE-INSTRUCTIONS: be brief."
        assert connection.config.modalities == ("text",)


async def test_sessions_close_with_their_sockets(served: Served, model: ScriptedModel) -> None:
    for _ in range(3):
        async with raw_client(served) as client:
            await client.send(user_text("hi"))
            await client.send({"type": "response.create"})
            await client.until("response.done")
    await served.wait_idle(model)
    assert served.server.sessions_served == 3
    assert model.connect_count == 3


async def test_echo_model_streams_audio_straight_back(agent: RealtimeAgent) -> None:
    model = ScriptedModel(echo=True)
    chunks = [tone(20, frequency=300 + 40 * i) for i in range(10)]
    async with serve(create_app(agent, model)) as running, raw_client(running) as client:
        for chunk in chunks:
            await client.send(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()}
            )
        await client.send({"type": "input_audio_buffer.commit"})
        frames = await client.until("response.done")
    echoed = [
        base64.b64decode(f["delta"]) for f in frames if f["type"] == "response.output_audio.delta"
    ]
    assert echoed == chunks


async def test_the_endpoint_works_with_the_app_mounted_under_a_prefix(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    inner = create_app(agent, model)
    outer = Starlette(routes=[Mount("/voice", app=inner)])
    outer.state.voicewire = inner.state.voicewire
    async with serve(outer) as running:
        token = running.token()
        url = f"ws://127.0.0.1:{running.port}/voice/v1/realtime?model=gpt-realtime"
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            created = json.loads(await ws.recv())
        assert created["type"] == "session.created"
        # Only that path is the realtime endpoint: the same path outside the mount is not.
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(
                running.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
            ):
                pass
        await running.wait_idle(model)
