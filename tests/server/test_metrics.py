"""``GET /metrics`` scraped over real HTTP after real sessions, and parsed with
prometheus-client's own parser: what each metric counts, per app."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed

from voicewire import RealtimeAgent, tool
from voicewire.protocol import AuthenticationError, ConnectOptions
from voicewire.server import create_app
from voicewire.server.metrics import MAX_ERROR_CODES, ServerMetrics, close_label
from voicewire.session import ReconnectPolicy
from voicewire.testing import (
    AudioReply,
    ScriptedConnection,
    ScriptedModel,
    TextReply,
    ToolCallReply,
    silence,
    tone,
)

from .conftest import Served, raw_client, serve, user_text

pytestmark = pytest.mark.timeout(30)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(served: Served) -> Samples:
    """Every sample of ``/metrics``, keyed by sample name and labels."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{served.http}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the labelled child was never created."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples carrying ``labels`` (and any others)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_sessions_active_goes_up_then_down_and_the_close_has_its_reason(
    served: Served,
) -> None:
    before = await scrape(served)
    assert value(before, "voicewire_sessions_active") == 0
    async with raw_client(served), raw_client(served):
        during = await scrape(served)
    await served.wait_idle()
    after = await scrape(served)
    assert value(during, "voicewire_sessions_active") == 2
    assert value(after, "voicewire_sessions_active") == 0
    assert value(after, "voicewire_sessions_closed_total", reason="client_closed") == 2
    assert total(after, "voicewire_sessions_closed_total") == 2
    assert value(after, "voicewire_model_connect_seconds_count", phase="connect") == 2


class RefusingModel(ScriptedModel):
    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        raise AuthenticationError("provider refused the key (HTTP 401)")


async def test_a_session_the_model_refused_is_closed_as_model_unavailable(
    agent: RealtimeAgent,
) -> None:
    async with serve(create_app(agent, RefusingModel())) as served:
        headers = {"Authorization": f"Bearer {served.token()}"}
        async with websockets.connect(served.ws_url, additional_headers=headers) as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        await served.wait_idle()
        samples = await scrape(served)
    assert error["error"]["code"] == "model_unavailable"
    assert value(samples, "voicewire_sessions_closed_total", reason="model_unavailable") == 1
    assert total(samples, "voicewire_sessions_closed_total") == 1
    assert value(samples, "voicewire_model_connect_seconds_count", phase="connect") == 0


async def test_frames_in_and_out_match_what_the_client_sent_and_got(served: Served) -> None:
    sent = 0
    async with raw_client(served) as client:
        for text in ("hello", "again"):
            await client.send(user_text(text))
            await client.send({"type": "response.create"})
            sent += 2
            await client.until("response.done")
        midway = await scrape(served)  # a live session's frames so far
        received_midway = len(client.frames)
        await client.send(user_text("last"))
        sent += 1
        await client.until("conversation.item.done")
        received = len(client.frames)
    await served.wait_idle()
    after = await scrape(served)
    assert value(midway, "voicewire_frames_total", direction="in") == 4
    assert value(midway, "voicewire_frames_total", direction="out") == received_midway
    assert value(after, "voicewire_frames_total", direction="in") == sent == 5
    assert value(after, "voicewire_frames_total", direction="out") == received


async def test_a_tool_call_is_timed_with_its_tool_and_outcome(
    served: Served, model: ScriptedModel
) -> None:
    model.script.on("mystery", ToolCallReply("no_such_tool", {}, then=TextReply("Sorry.")))
    async with raw_client(served) as client:
        await client.send(user_text("what is the weather?"))
        await client.send({"type": "response.create"})
        await client.until("response.done")  # the answer after the tool's output
        await client.send(user_text("a mystery"))
        await client.send({"type": "response.create"})
        await client.until("response.done")
    await served.wait_idle()
    samples = await scrape(served)
    name = "voicewire_tool_call_duration_seconds_count"
    assert value(samples, name, tool="get_weather", outcome="ok") == 1
    assert value(samples, name, tool="unknown", outcome="error") == 1
    assert total(samples, name) == 2
    assert value(samples, "voicewire_errors_total", source="session", code="unknown_tool") == 1


async def test_errors_are_counted_by_code_and_the_session_goes_on(served: Served) -> None:
    async with raw_client(served) as client:
        await client.send("{not json")
        await client.until("error")
        await client.send({"type": "no.such.event"})
        await client.until("error")
        await client.send("{still not json")
        await client.until("error")
        await client.send(user_text("hello"))
        await client.send({"type": "response.create"})
        await client.until("response.done")
    await served.wait_idle()
    samples = await scrape(served)
    assert value(samples, "voicewire_errors_total", source="client", code="invalid_json") == 2
    assert value(samples, "voicewire_errors_total", source="client", code="invalid_value") == 1
    assert total(samples, "voicewire_errors_total") == 3


async def _speak(client: object, audio: bytes) -> None:
    for start in range(0, len(audio), 960):
        chunk = base64.b64encode(audio[start : start + 960]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})  # type: ignore[attr-defined]


async def test_speech_end_to_first_audio_is_observed_once_per_turn(
    served: Served, model: ScriptedModel
) -> None:
    model.script.default = AudioReply("Something.", duration_ms=200, chunk_ms=20)
    turn = tone(200, amplitude=0.4) + silence(300)
    deltas = 0
    async with raw_client(served) as client:
        for _ in range(2):
            await _speak(client, turn)
            frames = await client.until("response.done")
            deltas += [f["type"] for f in frames].count("response.output_audio.delta")
    await served.wait_idle()
    samples = await scrape(served)
    assert deltas >= 2 * 10  # 200 ms in 20 ms chunks, per turn
    assert value(samples, "voicewire_speech_end_to_first_audio_seconds_count") == 2
    assert value(samples, "voicewire_speech_end_to_first_audio_seconds_sum") > 0


async def test_model_reconnects_are_counted_and_timed(agent: RealtimeAgent) -> None:
    model = ScriptedModel()
    model.script.default = TextReply("still here")
    app = create_app(agent, model, reconnect=ReconnectPolicy(initial_delay=0.01))
    async with serve(app) as served:
        async with raw_client(served) as client:
            [connection] = model.connections
            await connection.drop("upstream went away")
            await client.send(user_text("are you there?"))
            await client.send({"type": "response.create"})
            await client.until("response.done")
        await served.wait_idle(model)
        samples = await scrape(served)
    assert value(samples, "voicewire_model_reconnects_total", outcome="reconnected") == 1
    assert value(samples, "voicewire_model_reconnects_total", outcome="failed") == 0
    assert value(samples, "voicewire_model_connect_seconds_count", phase="reconnect") == 1
    assert value(samples, "voicewire_model_connect_seconds_count", phase="connect") == 1
    assert value(samples, "voicewire_sessions_closed_total", reason="client_closed") == 1


class OnceModel(ScriptedModel):
    """Connects once; every later attempt is refused."""

    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        if self.connect_count:
            raise ConnectionRefusedError("upstream is down")
        return await super().connect(options)


async def test_a_model_lost_for_good_counts_a_failed_reconnect_and_its_close(
    agent: RealtimeAgent,
) -> None:
    model = OnceModel()
    app = create_app(agent, model, reconnect=ReconnectPolicy(attempts=1, initial_delay=0.01))
    async with serve(app) as served:
        async with raw_client(served) as client:
            [connection] = model.connections
            await connection.drop("upstream went away")
            with pytest.raises(ConnectionClosed):
                while True:
                    await client.recv()
        await served.wait_idle(model)
        samples = await scrape(served)
    assert value(samples, "voicewire_model_reconnects_total", outcome="failed") == 1
    assert value(samples, "voicewire_model_reconnects_total", outcome="reconnected") == 0
    assert value(samples, "voicewire_sessions_closed_total", reason="model_lost") == 1
    assert value(samples, "voicewire_errors_total", source="session", code="connection_lost") == 1


async def test_two_apps_in_one_process_keep_their_own_figures(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model)) as one, serve(create_app(agent, model)) as two:
        async with raw_client(one):
            pass
        await one.wait_idle()
        first, second = await scrape(one), await scrape(two)
    assert value(first, "voicewire_sessions_closed_total", reason="client_closed") == 1
    assert total(second, "voicewire_sessions_closed_total") == 0
    assert value(second, "voicewire_frames_total", direction="out") == 0


async def test_metrics_can_be_left_out(agent: RealtimeAgent, model: ScriptedModel) -> None:
    async with serve(create_app(agent, model, metrics=False)) as served:
        async with raw_client(served) as client:
            await client.send(user_text("hello"))
            await client.send({"type": "response.create"})
            await client.until("response.done")
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{served.http}/metrics")
        await served.wait_idle()
    assert response.status_code == 404
    assert served.server.metrics is None


def test_error_codes_stay_a_bounded_set_of_well_formed_labels() -> None:
    metrics = ServerMetrics()
    for n in range(MAX_ERROR_CODES + 10):
        metrics.error(f"code_{n}")
    metrics.error('bad"code\nwith {braces}')
    metrics.error("code_0")  # a code already labelled keeps its label
    counts: Mapping[str, float] = {
        s.labels["code"]: s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == "voicewire_errors_total"
    }
    assert len(counts) == MAX_ERROR_CODES + 1
    assert counts["other"] == 11
    assert counts["code_0"] == 2


def test_close_labels() -> None:
    assert close_label(None) == "client_closed"
    assert close_label(None, failed=True) == "error"
    slow = (1008, "client too slow: nothing could be sent for 5 s")
    assert close_label(slow) == "client_too_slow"
    assert close_label((1011, "the model connection was lost")) == "model_lost"
    assert close_label((1012, "the server is restarting")) == "service_restart"
    assert close_label((4321, "whatever")) == "other"


TOOL_STARTED = asyncio.Event()


@tool
async def slow_lookup(query: str) -> str:
    """Look something up, slowly."""
    TOOL_STARTED.set()
    await asyncio.sleep(60)
    return "found"


async def test_a_tool_cut_short_by_the_caller_leaving_counts_as_cancelled() -> None:
    TOOL_STARTED.clear()
    agent = RealtimeAgent(id="slow", name="Slow", instructions="Look up.", tools=[slow_lookup])
    model = ScriptedModel()
    model.script.default = ToolCallReply("slow_lookup", {"query": "x"}, then=TextReply("Found."))
    async with serve(create_app(agent, model)) as served:
        async with raw_client(served) as client:
            await client.send(user_text("look it up"))
            await client.send({"type": "response.create"})
            async with asyncio.timeout(5):
                await TOOL_STARTED.wait()
        await served.wait_idle(model)
        samples = await scrape(served)
    name = "voicewire_tool_call_duration_seconds_count"
    assert value(samples, name, tool="slow_lookup", outcome="cancelled") == 1
    assert total(samples, name) == 1
