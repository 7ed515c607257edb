"""Bad frames get clear ``error`` events; the connection, and everyone else's, keeps working."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from voicewire import RealtimeAgent
from voicewire.server import create_app
from voicewire.testing import AudioReply, ScriptedModel

from .conftest import RawClient, Served, raw_client, serve, user_text

pytestmark = pytest.mark.timeout(20)


async def error_for(client: RawClient, frame: Any) -> dict[str, Any]:
    await client.send(frame)
    event = await client.recv()
    assert event["type"] == "error", event
    error: dict[str, Any] = event["error"]
    return error


async def still_answers(client: RawClient) -> None:
    await client.send(user_text("are you there?"))
    await client.send({"type": "response.create"})
    frames = await client.until("response.done")
    assert frames[-1]["response"]["status"] == "completed"


async def test_malformed_and_unknown_events(served: Served, model: ScriptedModel) -> None:
    async with raw_client(served) as client:
        error = await error_for(client, "{not json")
        assert error["code"] == "invalid_json"
        error = await error_for(client, "[1, 2]")
        assert error["code"] == "invalid_json"
        error = await error_for(client, {"type": "conversation.explode", "event_id": "evt_1"})
        assert (error["code"], error["param"], error["event_id"]) == (
            "invalid_value",
            "type",
            "evt_1",
        )
        assert "conversation.explode" in error["message"]
        error = await error_for(
            client, {"type": "input_audio_buffer.append", "audio": 42, "event_id": "evt_2"}
        )
        assert (error["code"], error["param"], error["event_id"]) == (
            "invalid_type",
            "audio",
            "evt_2",
        )
        error = await error_for(
            client,
            {
                "type": "conversation.item.truncate",
                "event_id": "evt_3",
                "item_id": "x",
                "content_index": 0,
            },
        )
        assert error["param"] == "audio_end_ms" and error["event_id"] == "evt_3"
        error = await error_for(client, {"type": "output_audio_buffer.clear", "event_id": "evt_4"})
        assert error["code"] == "invalid_value"
        error = await error_for(client, b"\x00\x01binary")
        assert error["code"] == "invalid_frame"
        await still_answers(client)
    assert all(frame["type"] != "error" or frame["error"]["message"] for frame in client.frames)


async def test_errors_from_the_model_reach_the_client(served: Served) -> None:
    async with raw_client(served) as client:
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_c"})
        [*_, error] = await client.until("error")
        assert error["error"]["code"] == "input_audio_buffer_commit_empty"
        await still_answers(client)


async def test_oversized_frames_are_refused_and_others_keep_working(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model, max_frame_bytes=64 * 1024)
    async with serve(app) as running:
        async with raw_client(running) as big, raw_client(running) as other:
            audio = base64.b64encode(bytes(100 * 1024)).decode()
            frame = json.dumps({"type": "input_audio_buffer.append", "audio": audio})
            error = await error_for(big, frame)
            assert error["code"] == "frame_too_large"
            assert "65536" in error["message"]
            error = await error_for(big, "é" * (40 * 1024))  # 80 KiB of UTF-8 in 40 Ki chars
            assert error["code"] == "frame_too_large"
            await still_answers(other)
            await still_answers(big)
            assert model.input_audio_bytes == 0
        await running.wait_idle(model)


async def test_session_update_the_session_cannot_take(served: Served) -> None:
    async with raw_client(served) as client:
        error = await error_for(
            client,
            {
                "type": "session.update",
                "event_id": "evt_s",
                "session": {"audio": {"input": {"format": {"type": "audio/flac"}}}},
            },
        )
        assert error["param"] == "session.audio.input.format.type"
        assert error["event_id"] == "evt_s"
        await still_answers(client)


async def test_a_client_that_vanishes_mid_response_leaks_nothing(
    served: Served, model: ScriptedModel
) -> None:
    model.script.default = AudioReply("Long.", duration_ms=5000, chunk_ms=20, pace=0.02)
    async with raw_client(served) as client:
        await client.send(user_text("talk"))
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
    await served.wait_idle(model)
    assert served.server.active_sessions == 0
    assert model.connections == []
