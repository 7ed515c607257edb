"""Hostile client frames over a real WebSocket (issue 9, cases 3, 6 and 7).

Each malformed frame gets exactly one ``error`` event and the connection goes on; NaN and Infinity
are refused as invalid JSON and nothing the server sends is anything but strict JSON; an input
format no model could be framed in is refused, and no frame can freeze the server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings

from tests.openai_wire.test_server_decoder_fuzz import mutated_frames
from voicewire import RealtimeAgent
from voicewire.cli.models import load_model
from voicewire.server import create_app
from voicewire.testing import tones

from .conftest import RawClient, Served, assert_strict, raw_client, serve, user_text

pytestmark = pytest.mark.timeout(20)


def _not_json(constant: str) -> Any:
    raise AssertionError(f"the server sent {constant}, which is not JSON")


async def next_event(client: RawClient, *, ga: bool = True) -> dict[str, Any]:
    """The next server frame, parsed as strict JSON (``json.loads`` alone takes NaN), and
    checked against OpenAI's GA schema unless ``ga`` is false."""
    raw = await asyncio.wait_for(client.ws.recv(), 5)
    assert isinstance(raw, str)
    event: dict[str, Any] = json.loads(raw, parse_constant=_not_json)
    if ga:
        assert_strict(event)
    client.frames.append(event)
    return event


async def one_error(client: RawClient, frame: dict[str, Any] | str) -> dict[str, Any]:
    await client.send(frame)
    event = await next_event(client)
    assert event["type"] == "error", event
    error: dict[str, Any] = event["error"]
    return error


async def goes_on(client: RawClient) -> None:
    """A valid turn still works, and no error came after the ones already read."""
    seen = len(client.frames)
    await client.send(user_text("are you there?"))
    await client.send({"type": "response.create"})
    frames = await client.until("response.done")
    assert frames[-1]["response"]["status"] == "completed"
    assert "error" not in [frame["type"] for frame in client.frames[seen:]]


def _message(role: object) -> dict[str, Any]:
    content = [{"type": "input_text", "text": "hi"}]
    item = {"type": "message", "role": role, "content": content}
    return {"type": "conversation.item.create", "item": item}


# --- case 3: one malformed frame no longer drops the connection ---------------------------------

ISSUE_FRAMES: list[tuple[dict[str, Any], str]] = [
    (_message({"nested": "object"}), "item.role"),
    (_message(["user"]), "item.role"),
    (
        {"type": "session.update", "session": {"output_modalities": [{}]}},
        "session.output_modalities[0]",
    ),
    (
        {"type": "response.create", "response": {"output_modalities": [{}]}},
        "response.output_modalities[0]",
    ),
]


async def test_each_malformed_frame_gets_one_error_and_the_connection_goes_on(
    served: Served,
) -> None:
    async with raw_client(served) as client:
        for index, (frame, param) in enumerate(ISSUE_FRAMES):
            error = await one_error(client, {**frame, "event_id": f"evt_{index}"})
            assert (error["code"], error["param"], error["event_id"]) == (
                "invalid_type",
                param,
                f"evt_{index}",
            )
            assert param in error["message"]
        await goes_on(client)
        errors = [frame for frame in client.frames if frame["type"] == "error"]
        assert len(errors) == len(ISSUE_FRAMES)


async def _read_to_the_end(client: RawClient) -> None:
    with contextlib.suppress(websockets.ConnectionClosedOK):
        while True:
            await next_event(client, ga=False)


def damaged_frames(count: int) -> list[Any]:
    """``count`` damaged GA client events, the same every run. Drawn here, outside the test's
    event loop: ``@given`` on an async test runs each example in a loop of its own, where the
    server (started in the fixture's loop) would never answer."""
    frames: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated_frames())
    def collect(frame: Any) -> None:
        frames.append(frame)

    collect()
    return frames


async def test_a_stream_of_damaged_frames_never_drops_the_connection(served: Served) -> None:
    """Whatever the decoder lets through reaches the session: the relay survives that too."""
    frames = damaged_frames(300)
    async with raw_client(served) as client:
        # Read while sending, as a client should: one that does not read is closed (1008).
        # Not checked as strict GA events: a session the frames moved to 16 kHz is shown at
        # 16 kHz, which OpenAI's schema (24 kHz only) refuses.
        reader = asyncio.create_task(_read_to_the_end(client))
        for frame in frames:
            await client.send(json.dumps(frame))
        marker = {"type": "conversation.item.retrieve", "item_id": "no_such", "event_id": _LAST}
        await client.send(marker)
        async with asyncio.timeout(15):
            while not any(_is_last(frame) for frame in client.frames):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        # A response the frames started may still be streaming: the reader reads it through
        # the close (a client that stops reading stalls its own close handshake).
    await reader
    errors = [frame for frame in client.frames if frame["type"] == "error"]
    assert 0 < len(errors) <= len(frames) + 1


_LAST = "evt_last_of_the_stream"


def _is_last(frame: dict[str, Any]) -> bool:
    return frame["type"] == "error" and frame["error"].get("event_id") == _LAST


# --- case 6: NaN and Infinity are not JSON -------------------------------------------------------


def _speed_update(speed: str) -> str:
    """A session.update with ``speed`` spelled as given (JSON or not)."""
    frame = json.dumps({"type": "session.update", "session": {"audio": {"output": {"speed": 0}}}})
    return frame.replace('"speed": 0', f'"speed": {speed}')


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_invalid_json(served: Served, constant: str) -> None:
    async with raw_client(served) as client:
        error = await one_error(client, _speed_update(constant))
        assert error["code"] == "invalid_json"
        assert "not valid JSON" in error["message"]
        await client.send(_speed_update("1.25"))
        updated = await next_event(client)
        assert updated["type"] == "session.updated"
        assert updated["session"]["audio"]["output"]["speed"] == 1.25
        await goes_on(client)


async def test_a_number_too_large_for_a_float_is_refused_not_echoed(served: Served) -> None:
    """``1e400`` is valid JSON but parses as infinity: the decoder refuses it by name."""
    async with raw_client(served) as client:
        error = await one_error(client, _speed_update("1e400"))
        assert (error["code"], error["param"]) == ("invalid_value", "session.audio.output.speed")
        assert "finite" in error["message"]
        await client.send(_speed_update("1.0"))
        updated = await next_event(client)
        assert updated["session"]["audio"]["output"]["speed"] == 1.0


# --- case 7: `voicewire serve --model scripted` and a rate below 100 Hz --------------------------


@pytest.mark.parametrize("rate", [50, 99, 7999, 48001])
async def test_an_input_rate_no_model_can_frame_is_refused_and_the_server_stays_up(
    agent: RealtimeAgent, rate: int
) -> None:
    model = load_model("scripted")  # exactly what `voicewire serve --model scripted` runs
    async with serve(create_app(agent, model)) as running, raw_client(running) as client:
        audio = {"input": {"format": {"type": "audio/pcm", "rate": rate}}}
        error = await one_error(client, {"type": "session.update", "session": {"audio": audio}})
        assert (error["code"], error["param"]) == (
            "invalid_value",
            "session.audio.input.format.rate",
        )
        assert "8000..48000" in error["message"]
        speech = tones.tone(200, sample_rate=24000, amplitude=0.3)
        frame = {"type": "input_audio_buffer.append", "audio": base64.b64encode(speech).decode()}
        await client.send(frame)
        async with httpx.AsyncClient(base_url=running.http, timeout=5) as http:
            page = await http.get("/")
        assert page.status_code == 200
        await client.send({"type": "input_audio_buffer.commit"})
        await client.send({"type": "response.create"})
        frames = await client.until("response.done")
        assert frames[-1]["response"]["status"] == "completed"
        assert "error" not in [frame["type"] for frame in frames]


# --- a bug behind the decoder or the session costs one event, not the connection ----------------


async def test_an_unexpected_failure_answers_one_error_and_the_connection_goes_on(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voicewire.server.relay as relay_module

    decode = relay_module.decode_client

    def flaky_decode(message: Any) -> Any:
        if message.get("event_id") == "evt_decode":
            raise TypeError("a decoder bug")
        return decode(message)

    monkeypatch.setattr(relay_module, "decode_client", flaky_decode)
    async with raw_client(served) as client:
        error = await one_error(
            client, {"type": "input_audio_buffer.clear", "event_id": "evt_decode"}
        )
        assert (error["type"], error["code"], error["event_id"]) == (
            "server_error",
            "internal_error",
            "evt_decode",
        )
        (relay,) = served.server.relays
        session = relay.session

        def broken_send(event: Any) -> None:
            raise KeyError("a session bug")

        monkeypatch.setattr(session, "send", broken_send)
        error = await one_error(client, {"type": "input_audio_buffer.clear", "event_id": "evt_x"})
        assert (error["code"], error["event_id"]) == ("internal_error", "evt_x")
        assert "a session bug" not in error["message"]  # the details are the server's
        monkeypatch.undo()
        await goes_on(client)
