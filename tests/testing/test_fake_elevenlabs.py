"""The fake ElevenLabs server's doors: signed URLs, private agents, initiation and overrides,
invalid frames, pings and the controls tests use. Driven by a raw WebSocket client and httpx,
so the fake is checked against the platform's documented behaviour, not against our codec."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from voicewire.testing import FakeElevenLabsServer, TextReply
from voicewire.testing.fake_elevenlabs import AgentConfig

from .elevenlabs_client import open_client

SIGNED = "/v1/convai/conversation/get-signed-url"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[FakeElevenLabsServer]:
    async with FakeElevenLabsServer(agent_id="agent_x", api_key="xi-test") as fake:
        yield fake
        assert fake.sent_violations == []


def http_base(server: FakeElevenLabsServer) -> str:
    return server.base_url.replace("ws://", "http://")


async def get_signed(
    server: FakeElevenLabsServer, agent_id: str = "agent_x", key: str | None = "xi-test"
) -> httpx.Response:
    headers = {"xi-api-key": key} if key is not None else {}
    async with httpx.AsyncClient() as client:
        return await client.get(
            f"{http_base(server)}{SIGNED}", params={"agent_id": agent_id}, headers=headers
        )


# --- signed URLs and private agents ----------------------------------------------------------


async def test_signed_url_needs_the_api_key(server: FakeElevenLabsServer) -> None:
    missing = await get_signed(server, key=None)
    assert missing.status_code == 401
    assert missing.json()["detail"]["status"] == "needs_authorization"
    wrong = await get_signed(server, key="xi-wrong")
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
    unknown = await get_signed(server, agent_id="agent_other")
    assert unknown.status_code == 404
    assert server.signed_urls_issued == 0
    ok = await get_signed(server)
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "application/json"
    url = urlsplit(ok.json()["signed_url"])
    assert f"{url.scheme}://{url.netloc}" == server.base_url
    assert url.path == "/v1/convai/conversation"
    query = parse_qs(url.query)
    assert query["agent_id"] == ["agent_x"]
    assert len(query["conversation_signature"][0]) >= 24
    assert server.signed_urls_issued == 1


async def test_a_private_agent_takes_only_its_fresh_signed_urls() -> None:
    clock = Clock()
    async with FakeElevenLabsServer("agent_p", "xi-k", private=True, clock=clock) as server:
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.public_url)
        assert refused.value.response.status_code == 403
        forged = f"{server.public_url}&conversation_signature=forged"
        with pytest.raises(InvalidStatus):
            await connect(forged)
        signed = (await get_signed(server, agent_id="agent_p", key="xi-k")).json()["signed_url"]
        async with open_client(server, signed) as client:
            await client.start()
        clock.now += 14 * 60 + 59  # still within the 15 minutes: a second conversation starts
        async with open_client(server, signed) as client:
            await client.start()
        clock.now += 2
        with pytest.raises(InvalidStatus) as expired:
            await connect(signed)
        assert expired.value.response.status_code == 403
        assert expired.value.response.body is not None
        assert b"expired" in expired.value.response.body
        assert [status for status, _ in server.rejected] == [403, 403, 403]
        assert server.connection_count == 2


async def test_a_public_agent_needs_no_credentials_but_the_right_id(
    server: FakeElevenLabsServer,
) -> None:
    async with open_client(server) as client:
        metadata = await client.start()
    assert metadata["conversation_initiation_metadata_event"]["conversation_id"].startswith("conv_")
    with pytest.raises(InvalidStatus) as unknown:
        await connect(f"{server.base_url}/v1/convai/conversation?agent_id=agent_nope")
    assert unknown.value.response.status_code == 404
    async with httpx.AsyncClient() as http:
        plain = await http.get(f"{http_base(server)}/v1/convai/conversation?agent_id=agent_x")
        elsewhere = await http.get(f"{http_base(server)}/v1/other")
    assert plain.status_code == 426
    assert elsewhere.status_code == 404


# --- initiation and overrides ------------------------------------------------------------------


async def test_metadata_announces_the_agents_formats() -> None:
    agent = AgentConfig(agent_output_audio_format="pcm_44100", user_input_audio_format="ulaw_8000")
    async with FakeElevenLabsServer(agent=agent) as server, open_client(server) as client:
        metadata = await client.start()
    event = metadata["conversation_initiation_metadata_event"]
    assert event["agent_output_audio_format"] == "pcm_44100"
    assert event["user_input_audio_format"] == "ulaw_8000"


async def test_enabled_overrides_apply_and_disabled_ones_close_the_socket() -> None:
    agent = AgentConfig(
        first_message="Hello from the agent.",
        enabled_overrides=frozenset({"agent.first_message", "agent.language"}),
    )
    async with FakeElevenLabsServer(agent=agent) as server:
        async with open_client(server) as client:
            override = {"agent": {"first_message": "Hei!", "language": "no"}}
            await client.start(conversation_config_override=override)
            response = await client.until("agent_response")
        assert response["agent_response_event"] == {"agent_response": "Hei!", "event_id": 1}
        assert server.conversations[-1].agent.language == "no"

        async with open_client(server) as client:
            override = {"agent": {"prompt": {"prompt": "Be rude."}}}
            await client.send(
                {
                    "type": "conversation_initiation_client_data",
                    "conversation_config_override": override,
                }
            )
            error = await client.until("error")
            code, _ = await client.closed()
        assert error["error_event"]["error_type"] == "override_error"
        assert error["error_event"]["code"] == 1008
        assert "agent.prompt.prompt" in error["error_event"]["message"]
        assert code == 1008
        assert "conversation_initiation_metadata" not in [m["type"] for m in client.messages]
        assert server.violations == []
        assert server.sent_violations == []


async def test_without_initiation_the_conversation_starts_at_the_first_other_frame(
    server: FakeElevenLabsServer,
) -> None:
    server.initiation_timeout = 30.0  # only the frame may start it
    async with open_client(server) as client:
        await client.send({"type": "user_activity"})
        await client.until("conversation_initiation_metadata")
        await server.wait_for_received("user_activity")
        await client.send({"type": "conversation_initiation_client_data"})
        await server.wait_for_received("conversation_initiation_client_data")
        await client.send({"type": "user_activity"})
        await server.wait_for_received("user_activity", count=2)
    assert server.conversations[-1].user_activity == 2
    assert server.violations == [
        "conversation_initiation_client_data: only allowed as the first message (ignored)"
    ]


async def test_client_events_filter_what_is_sent() -> None:
    agent = AgentConfig(client_events=frozenset({"agent_response", "audio"}))
    async with FakeElevenLabsServer(agent=agent) as server, open_client(server) as client:
        server.script.default = TextReply("Fine, thanks.")
        await client.start()
        await client.send({"type": "user_message", "text": "how are you"})
        await client.until("agent_response")
        await client.send({"type": "user_message", "text": "again"})
        await client.until("agent_response", lambda m: m["agent_response_event"]["event_id"] == 2)
    assert {m["type"] for m in client.messages} == {
        "conversation_initiation_metadata",
        "agent_response",
    }


# --- invalid frames ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "error_type", "violation"),
    [
        ("{not json", "invalid_message", "<malformed JSON>"),
        (b"\x00\x01", "invalid_message", "<binary frame>"),
        ("[1, 2]", "invalid_message", "<not an object>"),
        ('{"type": "response.create"}', "invalid_message", "<message>: unknown client message"),
        (
            '{"type": "client_tool_result", "tool_call_id": "c", "result": "x"}',
            "missing_fields",
            "client_tool_result: <message>: 'is_error' is a required property",
        ),
        (
            '{"type": "client_tool_result", "tool_call_id": "c", "result": {}, "is_error": false}',
            "invalid_message",
            "client_tool_result: result: {} is not of type 'string'",
        ),
        ('{"user_audio_chunk": "%%%"}', "invalid_message", "<user_audio_chunk>: user_audio_chunk"),
    ],
)
async def test_invalid_frames_get_an_error_event_and_close_1008(
    server: FakeElevenLabsServer, frame: str | bytes, error_type: str, violation: str
) -> None:
    async with open_client(server) as client:
        await client.start()
        await client.ws.send(frame)
        error = await client.until("error")
        code, _ = await client.closed()
    assert error["error_event"]["error_type"] == error_type
    assert error["error_event"]["code"] == 1008
    assert code == 1008
    assert len(server.violations) == 1
    assert server.violations[0].startswith(violation)


async def test_audio_chunks_are_waited_for_by_their_key(server: FakeElevenLabsServer) -> None:
    # user_audio_chunk messages have no "type": their key is their kind.
    async with open_client(server) as client:
        await client.start()
        await client.audio(bytes(1280))
        second = await server.wait_for_received("user_audio_chunk", count=2)
    assert second == {"user_audio_chunk": base64.b64encode(bytes(640)).decode()}


async def test_unknown_keys_are_violations_but_the_message_is_served(
    server: FakeElevenLabsServer,
) -> None:
    async with open_client(server) as client:
        await client.start()
        [event_id] = await server.ping()
        await client.until("ping")  # auto-answered, correctly
        await client.send({"type": "pong", "event_id": event_id, "ping_ms": 3})
        await client.send({"type": "user_activity"})
        await server.wait_for_received("user_activity")
    assert server.violations == ["pong: <message>: unknown key(s): 'ping_ms'"]
    assert server.conversations[-1].user_activity == 1


# --- pings -------------------------------------------------------------------------------------


async def test_pings_carry_ids_and_the_last_latency(server: FakeElevenLabsServer) -> None:
    async with open_client(server) as client:
        await client.start()
        client.auto_pong = False
        assert await server.ping() == [1]
        first = await client.until("ping")
        assert first["ping_event"] == {"event_id": 1, "ping_ms": None}
        await client.send({"type": "pong", "event_id": 1})
        await server.wait_for_received("pong")
        assert await server.ping() == [2]
        second = await client.until("ping")
        assert isinstance(second["ping_event"]["ping_ms"], int)
        await client.send({"type": "pong", "event_id": 99})
        await server.wait_for_received("pong", count=2)
    assert [(p.event_id, p.answered) for p in server.pongs] == [(1, True), (2, False)]
    latency = server.pongs[0].latency_ms
    assert latency is not None and latency >= 0
    assert server.violations == ["pong: no ping with event_id 99"]


async def test_strict_pongs_close_a_silent_client_and_keep_an_answering_one() -> None:
    async with FakeElevenLabsServer(ping_interval=0.05, strict_pongs=True) as server:
        async with open_client(server) as client:
            await client.start()
            for _ in range(3):
                await client.until("ping")  # answered by the client
        assert server.violations == []
        assert all(p.answered for p in server.pongs)

        async with open_client(server) as client:
            client.auto_pong = False
            await client.start()
            code, reason = await client.closed()
        assert (code, reason) == (1002, "pong not received")
        assert server.violations == ["pong: ping 1 was not answered"]


# --- controls ----------------------------------------------------------------------------------


async def test_send_error_sends_the_event_then_closes_with_its_code(
    server: FakeElevenLabsServer,
) -> None:
    async with open_client(server) as client:
        await client.start()
        await server.send_error(1002, "llm_timeout", "LLM response took over 20 seconds.")
        error = await client.until("error")
        code, reason = await client.closed()
    assert error["error_event"]["code"] == 1002
    assert error["error_event"]["error_type"] == "llm_timeout"
    assert (code, reason) == (1002, "LLM response took over 20 seconds.")
    assert server.open_connections == 0


async def test_close_with_and_drop(server: FakeElevenLabsServer) -> None:
    async with open_client(server) as client:
        await client.start()
        await server.close_with(1000, "max duration")
        assert await client.closed() == (1000, "max duration")
    async with open_client(server) as client:
        await client.start()
        await server.drop_connections()
        assert await client.closed() == (None, "")  # no close frame: 1006 for the client
        assert client.ws.close_code == 1006
    await asyncio.sleep(0)
    assert server.open_connections == 0
