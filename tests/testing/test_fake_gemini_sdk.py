"""The fake Gemini Live server checked by Google's own client: ``google.genai`` connects to it over
TLS (the SDK insists on it) with a self-signed certificate made here for 127.0.0.1, and every
frame the SDK sends must pass the fake's strict validation (the SDK's mixed casing allowed)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google import genai
from google.genai import types

from voicewire.testing import AudioReply, TextReply, ToolCallReply, silence, tone
from voicewire.testing.fake_gemini import FakeGeminiServer

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning"),
]

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
RATE = 16000


@pytest.fixture(scope="module")
def tls(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ssl.SSLContext, ssl.SSLContext]]:
    """(server context, client context) for a self-signed 127.0.0.1 certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    yield server, ssl.create_default_context(cafile=str(cert_path))


@pytest.fixture
async def server(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> AsyncIterator[FakeGeminiServer]:
    async with FakeGeminiServer(api_key="g-test", ssl=tls[0]) as fake:
        yield fake
    assert fake.violations == []
    assert fake.own_problems == []


def client_for(
    fake: FakeGeminiServer,
    client_ctx: ssl.SSLContext,
    *,
    key: str = "g-test",
    version: str = "v1beta",
) -> genai.Client:
    options = types.HttpOptions(
        base_url=fake.http_url,
        api_version=version,
        # "ssl" for the WebSocket, "verify" for the REST client
        async_client_args={"ssl": client_ctx, "verify": client_ctx},
    )
    return genai.Client(api_key=key, http_options=options)


async def turn(session: Any) -> list[types.LiveServerMessage]:
    """One turn's messages (the SDK's receive() stops after turnComplete)."""
    return [message async for message in session.receive()]


def said(messages: list[types.LiveServerMessage], field: str) -> str:
    out = []
    for message in messages:
        content = message.server_content
        value = getattr(content, field, None) if content else None
        if value is not None and value.text:
            out.append(value.text)
    return "".join(out)


async def test_setup_and_a_text_turn(
    server: FakeGeminiServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server.script.on("hello", TextReply("Hello from the fake."))
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        system_instruction="Be brief.",
    )
    async with client_for(server, tls[1]).aio.live.connect(model=MODEL, config=config) as live:
        await live.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="hello")]), turn_complete=True
        )
        messages = await turn(live)
    text = "".join(m.text or "" for m in messages)
    assert text == "Hello from the fake."
    assert messages[-1].server_content is not None and messages[-1].server_content.turn_complete
    assert messages[-1].usage_metadata is not None
    assert messages[-1].usage_metadata.total_token_count
    setup = server.received[0]["setup"]
    assert setup["model"] == f"models/{MODEL}"
    assert setup["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert not server.links[0].pure_camel_case  # the SDK's own mixed casing, accepted


async def test_an_audio_turn_with_transcriptions(
    server: FakeGeminiServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server.script.input_transcript = "what time is it"
    server.script.on("time", AudioReply("It is noon.", duration_ms=300))
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(silence_duration_ms=200)
        ),
    )
    audio = tone(300, sample_rate=RATE, amplitude=0.4) + silence(300, sample_rate=RATE)
    async with client_for(server, tls[1]).aio.live.connect(model=MODEL, config=config) as live:
        for start in range(0, len(audio), 640):
            await live.send_realtime_input(
                audio=types.Blob(data=audio[start : start + 640], mime_type="audio/pcm;rate=16000")
            )
        messages = await turn(live)
    assert said(messages, "input_transcription") == "what time is it"
    assert said(messages, "output_transcription") == "It is noon."
    pcm = b"".join(m.data or b"" for m in messages)
    assert len(pcm) == 300 * 48  # 24 kHz PCM16
    assert bytes(server.input_audio) == audio


async def test_a_tool_call_and_its_response(
    server: FakeGeminiServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server.script.on(
        "weather", ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("Sunny."))
    )
    declaration = types.FunctionDeclaration(
        name="get_weather",
        description="Weather for a city.",
        parameters=types.Schema(
            type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}
        ),
    )
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[types.Tool(function_declarations=[declaration])],
    )
    async with client_for(server, tls[1]).aio.live.connect(model=MODEL, config=config) as live:
        await live.send_realtime_input(text="weather in Paris?")
        calls: list[types.FunctionCall] = []
        async for message in live.receive():
            if message.tool_call and message.tool_call.function_calls:
                calls = message.tool_call.function_calls
                break
        assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
        await live.send_tool_response(
            function_responses=[
                types.FunctionResponse(
                    id=calls[0].id, name="get_weather", response={"output": "sunny"}
                )
            ]
        )
        messages = await turn(live)
    assert "".join(m.text or "" for m in messages) == "Sunny."
    response = next(f for f in server.received if "tool_response" in f or "toolResponse" in f)
    assert server.undeclared_tool_calls == []
    assert response


async def test_session_resumption_with_the_sdk(
    server: FakeGeminiServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server.script.default = TextReply("noted")
    client = client_for(server, tls[1])
    handle: str | None = None
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )
    async with client.aio.live.connect(model=MODEL, config=config) as live:
        await live.send_realtime_input(text="remember blue")
        for message in await turn(live):
            update = message.session_resumption_update
            if update and update.resumable and update.new_handle:
                handle = update.new_handle
        # the handle issued after turnComplete comes with the next receive()
        async for message in live.receive():
            update = message.session_resumption_update
            if update and update.resumable and update.new_handle:
                handle = update.new_handle
                break
    assert handle == server.session.handles[-1]
    resumed = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )
    async with client.aio.live.connect(model=MODEL, config=resumed) as live:
        await live.send_realtime_input(text="and red")
        await turn(live)
    assert len(server.sessions) == 1
    assert [t["parts"][0]["text"] for t in server.conversation] == [
        "remember blue",
        "noted",
        "and red",
        "noted",
    ]


async def test_an_ephemeral_token_minted_over_plain_http(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    async with (
        FakeGeminiServer(api_key="g-test") as plain,
        FakeGeminiServer(api_key="g-test", ssl=tls[0], tokens=plain.tokens) as secure,
    ):
        minting = genai.Client(
            api_key="g-test",
            http_options=types.HttpOptions(base_url=plain.http_url, api_version="v1alpha"),
        )
        token = await minting.aio.auth_tokens.create(config=types.CreateAuthTokenConfig(uses=2))
        assert token.name is not None and token.name.startswith("auth_tokens/")
        assert token.uses == 2
        secure.script.default = TextReply("hi with a token")
        client = client_for(secure, tls[1], key=token.name, version="v1alpha")
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        async with client.aio.live.connect(model=MODEL, config=config) as live:
            await live.send_realtime_input(text="hello")
            messages = await turn(live)
        assert "".join(m.text or "" for m in messages) == "hi with a token"
        assert secure.links[0].path.startswith(
            "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
        )
        assert plain.tokens.tokens[token.name].used == 1
        assert secure.violations == [] and plain.violations == []


async def test_a_wrong_key_fails_the_sdk_with_1007(
    server: FakeGeminiServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    with pytest.raises(Exception, match="1007") as failed:
        async with client_for(server, tls[1], key="wrong").aio.live.connect(
            model=MODEL, config=config
        ) as live:
            await live.send_realtime_input(text="hello")
            await turn(live)
    assert "API key not valid" in str(failed.value)
