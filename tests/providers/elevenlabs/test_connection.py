"""An ElevenLabs connection over real WebSockets on 127.0.0.1: the opening exchange, pongs sent
at once, close codes and the ``error`` event as clear errors, signed URLs and credentials, and
no secret in any log line, repr or error."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from voicewire.protocol import (
    AudioInputAppend,
    AuthenticationError,
    ConfigurationError,
    ConnectOptions,
    CredentialExpiredError,
    ItemCreate,
    ItemTruncate,
    ServerEvent,
    SessionConfig,
    SessionError,
    TokenCredential,
    TransportStatus,
    UnsupportedEventError,
    UrlCredential,
    user_text,
)
from voicewire.providers import elevenlabs
from voicewire.providers.codec_connection import CodecConnection

from .raw_server import Peer, raw_agent
from .support import agent_response, error, ping

WITHIN_S = 10.0


async def collect(connection: CodecConnection, until: str) -> list[ServerEvent]:
    seen: list[ServerEvent] = []
    async with asyncio.timeout(WITHIN_S):
        async for event in connection:
            seen.append(event)
            if event.kind == until:
                break
    return seen


async def test_a_public_agent_opens_with_the_initiation_and_the_servers_metadata() -> None:
    async def agent(peer: Peer) -> None:
        await peer.open(output_format="pcm_44100", input_format="ulaw_8000")
        await peer.send(agent_response("Hi!", 1))
        await peer.until("user_message")

    async with raw_agent(agent) as (base_url, peers):
        model = elevenlabs.realtime("agent_x", base_url=base_url)
        config = SessionConfig(instructions="Be brief.")
        connection = await model.connect(ConnectOptions(session_config=config))
        try:
            assert connection.session_id == "conv_1" and connection.provider == "elevenlabs"
            seen = await collect(connection, "transcript.output")
            connection.send(ItemCreate(user_text("Hello", "item_1")))
            acked = await collect(connection, "item.created")
        finally:
            await connection.close()
    [peer] = peers
    assert peer.path == "/v1/convai/conversation?agent_id=agent_x"
    assert "xi-api-key" not in {k.lower() for k in peer.headers}
    assert peer.received[0]["type"] == "conversation_initiation_client_data"
    assert peer.received[0]["conversation_config_override"] == {
        "agent": {"prompt": {"prompt": "Be brief."}}
    }
    assert [e.kind for e in seen][:2] == ["session.created", "session.updated"]
    assert acked[-1].item.id == "item_1"  # type: ignore[union-attr]
    assert peer.violations == []


async def test_a_ping_is_answered_at_once_with_its_event_id() -> None:
    pongs: list[dict[str, Any]] = []
    answered = asyncio.Event()

    async def agent(peer: Peer) -> None:
        await peer.open()
        for event_id in (3, 4):
            await peer.send(ping(event_id, ping_ms=20))
            pongs.append(await peer.until("pong"))
        answered.set()

    async with raw_agent(agent) as (base_url, peers):
        connection = await elevenlabs.realtime("agent_x", base_url=base_url).connect()
        try:
            async with asyncio.timeout(WITHIN_S):
                await answered.wait()
        finally:
            await connection.close()
    assert pongs == [{"type": "pong", "event_id": 3}, {"type": "pong", "event_id": 4}]
    assert peers[0].violations == []


class GatedSocket:
    """A socket whose sends wait for the test, to see what goes out in which order."""

    def __init__(self, expected: int) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.all_sent = asyncio.Event()
        self.expected = expected
        self.incoming: asyncio.Queue[str] = asyncio.Queue()

    async def send(self, message: str, /) -> None:
        await self.gate.wait()
        self.sent.append(json.loads(message))
        if len(self.sent) == self.expected:
            self.all_sent.set()

    async def recv(self) -> str:
        return await self.incoming.get()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.gate.set()


async def test_a_pong_goes_ahead_of_queued_audio() -> None:
    socket = GatedSocket(expected=6)
    codec = elevenlabs.ElevenLabsCodec()
    connection = CodecConnection(socket, codec, provider="elevenlabs")
    for _ in range(5):
        connection.send(AudioInputAppend(b"\x00\x00" * 480))
    await asyncio.sleep(0.01)  # the writer holds the first chunk at the gate
    socket.incoming.put_nowait(json.dumps(ping(9)))
    await asyncio.sleep(0.01)
    socket.gate.set()
    async with asyncio.timeout(WITHIN_S):
        await socket.all_sent.wait()
    await connection.close()
    order = ["pong" if m.get("type") == "pong" else "audio" for m in socket.sent]
    assert order == ["audio", "pong", "audio", "audio", "audio", "audio"]


async def test_the_error_event_and_the_close_become_clear_errors() -> None:
    async def agent(peer: Peer) -> None:
        await peer.open()
        await peer.until("user_message")
        await peer.send(
            error(1008, "Missing required dynamic variable 'user_name'", "missing_dynamic_variable")
        )
        await peer.socket.close(1008, "missing dynamic variable")

    async with raw_agent(agent) as (base_url, _):
        connection = await elevenlabs.realtime("agent_x", base_url=base_url).connect()
        connection.send(ItemCreate(user_text("Hi", "item_1")))
        errors = [
            e for e in await collect(connection, "session.error") if isinstance(e, SessionError)
        ]
        lost = [
            e for e in await collect(connection, "session.error") if isinstance(e, SessionError)
        ]
        await connection.close()
    assert [(e.code, e.fatal) for e in errors] == [("missing_dynamic_variable", False)]
    assert "Missing required dynamic variable 'user_name'" in errors[0].message
    [gone] = lost  # final: a new conversation would miss the variable too
    assert gone.code == "missing_dynamic_variable" and gone.fatal
    assert "code 1008: missing dynamic variable" in gone.message
    assert "missing_dynamic_variable" in gone.message
    assert connection.status is TransportStatus.CLOSED


async def test_a_close_without_an_error_event_says_what_its_code_means() -> None:
    async def agent(peer: Peer) -> None:
        await peer.open()
        await peer.socket.close(1011, "")

    async with raw_agent(agent) as (base_url, _):
        connection = await elevenlabs.realtime("agent_x", base_url=base_url).connect()
        [gone] = [
            e for e in await collect(connection, "session.error") if isinstance(e, SessionError)
        ]
        await connection.close()
    assert gone.fatal and "code 1011" in gone.message and "internal error" in gone.message


async def test_a_refused_override_fails_connect_with_the_servers_words_and_the_overrides() -> None:
    async def agent(peer: Peer) -> None:
        await peer.recv()
        await peer.send(
            error(1008, "Override for field 'prompt' is not allowed by config.", "override_error")
        )
        await peer.socket.close(1008, "Override for field 'prompt' is not allowed by config.")

    async with raw_agent(agent) as (base_url, _):
        model = elevenlabs.realtime("agent_x", base_url=base_url)
        options = ConnectOptions(session_config=SessionConfig(instructions="Be brief."))
        with pytest.raises(ConfigurationError) as raised:
            await model.connect(options)
    words = raised.value.message
    assert "did not start the conversation" in words and "code 1008" in words
    assert "override_error" in words and "agent.prompt.prompt" in words
    assert "security settings" in words


async def test_what_the_agent_cannot_take_raises_and_the_link_goes_on() -> None:
    async def agent(peer: Peer) -> None:
        await peer.open()
        await peer.until("user_message")

    async with raw_agent(agent) as (base_url, peers):
        connection = await elevenlabs.realtime("agent_x", base_url=base_url).connect()
        with pytest.raises(UnsupportedEventError, match=r"elevenlabs cannot take item\.truncate"):
            connection.send(ItemTruncate("item_1", 100))
        connection.send(ItemCreate(user_text("Still there?", "item_2")))
        await collect(connection, "item.created")
        await connection.close()
    assert [m["type"] for m in peers[0].received] == [
        "conversation_initiation_client_data",
        "user_message",
    ]


def signing(
    base_url: str, requests: list[httpx.Request], *, status: int = 200
) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if status != 200:
            return httpx.Response(
                status, json={"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
            )
        query = "agent_id=agent_x&conversation_signature=sig_SECRET123"
        signed = f"{base_url}/v1/convai/conversation?{query}"
        return httpx.Response(200, json={"signed_url": signed})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_private_agent_is_reached_through_a_signed_url_and_no_secret_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def agent(peer: Peer) -> None:
        await peer.open()
        await peer.until("user_message")

    requests: list[httpx.Request] = []
    async with raw_agent(agent) as (base_url, peers):
        model = elevenlabs.realtime(
            "agent_x",
            api_key="xi-SECRETKEY",
            base_url=base_url,
            http_client=signing(base_url, requests),
        )
        before = datetime.now(UTC)
        credential = await model.authenticate()
        connection = await model.connect()  # fetches a signed URL of its own
        logging.getLogger("voicewire.connection").debug("connected to %s", credential.url)
        await connection.close()
        second = await model.connect(ConnectOptions(credential=credential))  # dialed verbatim
        await second.close()
    for request in requests:
        assert request.method == "GET"
        assert request.url.path == "/v1/convai/conversation/get-signed-url"
        assert dict(request.url.params) == {"agent_id": "agent_x"}
        assert request.headers["xi-api-key"] == "xi-SECRETKEY"
    assert len(requests) == 2
    assert isinstance(credential, UrlCredential)
    assert (
        before + timedelta(minutes=14)
        < credential.expires_at
        <= datetime.now(UTC) + timedelta(minutes=15)
    )
    assert [p.path for p in peers] == [
        "/v1/convai/conversation?agent_id=agent_x&conversation_signature=sig_SECRET123"
    ] * 2
    assert all("xi-api-key" not in {k.lower() for k in p.headers} for p in peers)
    shown = caplog.text + repr(model) + repr(credential)
    assert "connected to" in caplog.text  # the test's own line went through the filters
    assert "xi-SECRETKEY" not in shown and "sig_SECRET123" not in shown


async def test_a_refused_signing_is_a_clear_authentication_error_without_the_key() -> None:
    requests: list[httpx.Request] = []
    model = elevenlabs.realtime(
        "agent_x",
        api_key="xi-SECRETKEY",
        base_url="ws://127.0.0.1:9",
        http_client=signing("ws://x", requests, status=401),
    )
    with pytest.raises(AuthenticationError) as raised:
        await model.connect()
    assert "HTTP 401" in raised.value.message and "agent_x" in raised.value.message
    assert "xi-SECRETKEY" not in raised.value.message


async def test_credentials_that_cannot_open_a_conversation_are_refused_before_dialing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    model = elevenlabs.realtime("agent_x", base_url="ws://127.0.0.1:9")
    past = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(CredentialExpiredError, match="expired"):
        await model.connect(
            ConnectOptions(
                credential=UrlCredential("ws://127.0.0.1:9/x?conversation_signature=s", past)
            )
        )
    with pytest.raises(AuthenticationError, match="needs a url credential"):
        await model.connect(
            ConnectOptions(credential=TokenCredential("tok", past + timedelta(hours=1)))
        )
    with pytest.raises(AuthenticationError, match="ELEVENLABS_API_KEY"):
        await model.authenticate()


async def test_the_end_of_converted_agent_audio_comes_out_when_the_agent_pauses() -> None:
    from voicewire.protocol import AudioFormat, AudioOutputDelta

    from .support import audio

    async def agent(peer: Peer) -> None:
        await peer.open(output_format="pcm_44100")
        await peer.send(audio(1, b"\x10\x00" * 4410))  # 100 ms, then nothing
        await peer.until("user_message")

    async with raw_agent(agent) as (base_url, _):
        config = SessionConfig(output_audio_format=AudioFormat.pcm16(24000))
        model = elevenlabs.realtime("agent_x", base_url=base_url)
        connection = await model.connect(ConnectOptions(session_config=config))
        heard = 0
        async with asyncio.timeout(WITHIN_S):
            async for event in connection:
                if isinstance(event, AudioOutputDelta):
                    heard += len(event.audio)
                    if heard == 100 * 48:  # every sample, without a next turn
                        break
        await connection.close()
    assert heard == 100 * 48


async def test_an_item_is_acknowledged_only_once_it_is_on_the_socket() -> None:
    socket = GatedSocket(expected=1)
    connection = CodecConnection(socket, elevenlabs.ElevenLabsCodec(), provider="elevenlabs")
    acked: list[str] = []
    connection.deliver_to(
        lambda e: acked.append(e.item.id) if e.kind == "item.created" else None,  # type: ignore[union-attr]
        lambda: None,
    )
    connection.send(ItemCreate(user_text("Hi", "item_1")))
    await asyncio.sleep(0.01)  # the writer waits at the gate with it
    assert acked == []  # a drop now would leave it unacknowledged: sent again after reconnect
    socket.gate.set()
    async with asyncio.timeout(WITHIN_S):
        await socket.all_sent.wait()
    await connection.close()
    assert acked == ["item_1"]
    assert socket.sent == [{"type": "user_message", "text": "Hi"}]


async def test_a_malformed_frame_is_reported_and_the_connection_keeps_reading() -> None:
    async def agent(peer: Peer) -> None:
        await peer.open()
        await peer.socket.send("{not json")
        await peer.send({"type": "interruption", "interruption_event": {"event_id": "x"}})
        await peer.send(ping(5))
        await peer.until("pong")
        await peer.send(agent_response("Still here.", 1))
        await peer.socket.wait_closed()

    async with raw_agent(agent) as (base_url, peers):
        connection = await elevenlabs.realtime("agent_x", base_url=base_url).connect()
        seen = await collect(connection, "transcript.output")
        await connection.close()
    errors = [e for e in seen if isinstance(e, SessionError)]
    assert [e.code for e in errors] == ["invalid_json", "protocol_error"]
    assert "elevenlabs: the server sent malformed JSON" in errors[0].message
    assert "'interruption_event.event_id' must be an integer, got str 'x'" in errors[1].message
    assert not any(e.fatal for e in errors) and connection.status is TransportStatus.CLOSED
    assert {"type": "pong", "event_id": 5} in peers[0].received


async def test_a_reconnect_does_not_ask_an_agent_for_a_response_it_cannot_be_asked_for() -> None:
    from voicewire import RealtimeAgent, RealtimeSession
    from voicewire.session import ReconnectPolicy

    from .support import audio

    async def agent(peer: Peer) -> None:
        await peer.open()
        if len(peers) == 1:  # the first link: the agent starts speaking, then the link fails
            await peer.send(audio(1))
            await peer.socket.close(1011, "internal error")
        else:
            await peer.socket.wait_closed()

    async with raw_agent(agent) as (base_url, peers):
        model = elevenlabs.realtime("agent_x", base_url=base_url)
        session = RealtimeSession(
            RealtimeAgent(id="a", name="A", instructions=""),
            model=model,
            reconnect=ReconnectPolicy(attempts=2, initial_delay=0.05),
        )
        errors: list[str] = []
        back = asyncio.Event()
        session.on("error", lambda e: errors.append(e.message))  # type: ignore[attr-defined]
        session.on("status", lambda e: back.set() if session.reconnects else None)
        async with session:
            async with asyncio.timeout(WITHIN_S):
                await back.wait()
    assert session.reconnects == 1
    assert errors == []  # no "response.create not sent" for the answer the drop cut off


async def test_the_end_of_the_users_converted_audio_reaches_the_agent_when_the_app_pauses() -> None:
    """24 kHz from the app, 16 kHz to the agent: the resampler holds the last few tens of ms
    until more comes; when nothing more comes (a WAV file ended), the tail still goes out."""
    import base64

    from voicewire.protocol import AudioFormat

    got = asyncio.Event()
    wire_bytes = 0

    async def agent(peer: Peer) -> None:
        nonlocal wire_bytes
        await peer.open(input_format="pcm_16000")
        while True:
            chunk = await peer.until("user_audio_chunk")
            wire_bytes += len(base64.b64decode(chunk["user_audio_chunk"]))
            if wire_bytes >= 16 * 2 * 300:  # all 300 ms, at 16 kHz
                got.set()

    async with raw_agent(agent) as (base_url, peers):
        config = SessionConfig(input_audio_format=AudioFormat.pcm16(24000))
        model = elevenlabs.realtime("agent_x", base_url=base_url)
        connection = await model.connect(ConnectOptions(session_config=config))
        tone = b"".join((1000 * (i % 24)).to_bytes(2, "little", signed=True) for i in range(240))
        for _ in range(30):  # 300 ms in 10 ms chunks, then nothing
            connection.send(AudioInputAppend(tone))
        async with asyncio.timeout(WITHIN_S):
            await got.wait()
        await asyncio.sleep(0.3)  # a second release would come now
        await connection.close()
    assert wire_bytes == 16 * 2 * 300  # every sample, once
    assert peers[0].violations == []


@pytest.mark.parametrize(
    "url",
    [
        "wss://127.0.0.1:99999/v1/convai/conversation?agent_id=a&conversation_signature=SECRETSIG",
        "wss://[bad/v1/convai/conversation?conversation_signature=SECRETSIG",
        "https://api.elevenlabs.io/v1/convai/conversation?conversation_signature=SECRETSIG",
    ],
)
async def test_a_malformed_signed_url_is_a_clear_error_that_never_quotes_its_signature(
    url: str,
) -> None:
    model = elevenlabs.realtime("agent_x")
    credential = UrlCredential(url, datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(ConfigurationError) as raised:
        await model.connect(ConnectOptions(credential=credential))
    assert "signed URL" in str(raised.value)
    assert "SECRETSIG" not in str(raised.value)


async def test_a_tool_result_starts_the_quiet_that_ends_the_response_with_no_frame_after_it() -> (
    None
):
    """The reader waits for a frame with no idle timer while a tool call is open; the result
    going out starts the timer, even if the agent then sends nothing at all."""
    from voicewire.protocol import ToolResult
    from voicewire.providers.elevenlabs.turns import END_AFTER_TOOL_S

    from .support import tool_call

    now = [100.0]
    socket = GatedSocket(expected=1)
    socket.gate.set()
    codec = elevenlabs.ElevenLabsCodec(clock=lambda: now[0])
    connection = CodecConnection(socket, codec, provider="elevenlabs")
    seen: list[str] = []
    called, done = asyncio.Event(), asyncio.Event()

    def take(event: ServerEvent) -> None:
        seen.append(event.kind)
        if event.kind == "tool.call":
            called.set()
        elif event.kind == "response.done":
            done.set()

    connection.deliver_to(take, lambda: None)
    socket.incoming.put_nowait(json.dumps(tool_call("lookup", "call_1", {}, 1)))
    async with asyncio.timeout(WITHIN_S):
        await called.wait()
    await asyncio.sleep(0.01)  # the reader waits: no timer while the call is open
    now[0] += 60
    connection.send(ToolResult("call_1", "found", "lookup"))
    now[0] += END_AFTER_TOOL_S  # and the agent stays quiet: no frame comes at all
    async with asyncio.timeout(WITHIN_S):
        await done.wait()
    await connection.close()
    assert seen[-1] == "response.done"
