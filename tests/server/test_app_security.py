"""Who may connect, and what never leaks: tokens, origins, provider keys."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from voicewire import RealtimeAgent
from voicewire.server import TokenAuthority, create_app
from voicewire.testing import ScriptedModel, TextReply

from .conftest import Served, raw_client, serve, user_text

pytestmark = pytest.mark.timeout(20)

SECRET = "server-secret-0123456789abcdefghij"
PROVIDER_KEY = "sk-proj-LEAKCANARY-9f8e7d6c5b4a"


async def refused(served: Served, headers: dict[str, str], **kwargs: Any) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(
            served.ws_url, additional_headers=headers, open_timeout=5, **kwargs
        ):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body or b"{}")


CLIENT_SIDE = ("websockets.client", "httpx", "httpcore")


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the server side logged (the in-process test clients log their own headers)."""
    return "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith(CLIENT_SIDE)
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def secured(agent: RealtimeAgent, model: ScriptedModel) -> Any:
    app = create_app(agent, model, secret=SECRET, allowed_origins=["https://app.example.com"])
    async with serve(app) as running:
        yield running


def _tamper(token: str) -> str:
    prefix, payload, signature = token.split(".")
    signature = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    return f"{prefix}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda: TokenAuthority(SECRET, clock=lambda: 1_000_000.0).issue().token, "token_expired"),
        (lambda: _tamper(TokenAuthority(SECRET).issue().token), "invalid_token_signature"),
        (
            lambda: TokenAuthority("another-secret-0123456789abcdefghij").issue().token,
            "invalid_token_signature",
        ),
        (lambda: TokenAuthority(SECRET, audience="admin").issue().token, "wrong_token_audience"),
        (lambda: "sk-not-a-voicewire-token", "malformed_token"),
    ],
    ids=["expired", "tampered", "other-secret", "wrong-audience", "not-a-token"],
)
async def test_bad_tokens_are_refused_and_logged_without_the_token(
    secured: Served, caplog: pytest.LogCaptureFixture, make_token: Any, code: str
) -> None:
    caplog.set_level(logging.DEBUG)
    token = make_token()
    status, body = await refused(secured, bearer(token))
    assert status == 401
    assert body["error"]["code"] == code
    assert token not in json.dumps(body)
    reasons = [r.getMessage() for r in caplog.records if "refused a realtime" in r.getMessage()]
    assert reasons and code in reasons[0]
    assert token not in server_log(caplog)
    # The same refusal through the browser subprotocol.
    status, _ = await refused(
        secured, {}, subprotocols=["realtime", f"openai-insecure-api-key.{token}"]
    )
    assert status == 401
    assert token not in server_log(caplog)


async def test_missing_token(secured: Served) -> None:
    status, body = await refused(secured, {})
    assert status == 401
    assert body["error"]["code"] == "missing_credential"


async def test_single_use_tokens_cannot_be_replayed(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    async with serve(create_app(agent, model, single_use=True)) as running:
        token = running.token()
        async with raw_client(running, token):
            pass
        status, body = await refused(running, bearer(token))
        assert status == 401
        assert body["error"]["code"] == "token_replayed"
        async with raw_client(running):  # a fresh token works
            pass


async def test_origins(secured: Served) -> None:
    token = secured.token()
    status, body = await refused(secured, bearer(token), origin="https://evil.example.net")
    assert status == 403
    assert body["error"]["code"] == "origin_not_allowed"
    status, _ = await refused(secured, bearer(token), origin="null")
    assert status == 403
    async with raw_client(secured, token, origin="https://app.example.com"):
        pass
    async with raw_client(secured, token, origin=secured.http):  # same origin
        pass
    async with httpx.AsyncClient(base_url=secured.http) as http:
        evil = await http.post(
            "/realtime/credential", headers={"Origin": "https://evil.example.net"}
        )
        assert evil.status_code == 403
        good = await http.post("/realtime/credential", headers={"Origin": secured.http})
        assert good.status_code == 200


async def test_default_policy_is_same_origin_only(served: Served) -> None:
    status, _ = await refused(served, bearer(served.token()), origin="https://app.example.com")
    assert status == 403
    async with raw_client(served, origin=served.http):
        pass


async def test_credential_endpoint_mints_working_tokens(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.http) as http:
        response = await http.post("/realtime/credential")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        credential = response.json()["credential"]
        assert credential["kind"] == "token"
        assert credential["expiresAt"].endswith("Z")
        assert (await http.get("/realtime/credential")).status_code == 405
        bad = await http.post("/realtime/credential", content=b"{not json")
        assert bad.status_code == 400
    async with raw_client(served, credential["token"]) as client:
        await client.send(user_text("hi"))
        await client.send({"type": "response.create"})
        await client.until("response.done")


async def test_provider_credentials_only_when_allowed(
    agent: RealtimeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = ScriptedModel(model_id="scripted-realtime", api_key=PROVIDER_KEY)
    ask = {"provider": "scripted", "modelId": "scripted-realtime"}
    async with (
        serve(create_app(agent, model)) as closed,
        httpx.AsyncClient(base_url=closed.http) as http,
    ):
        response = await http.post("/realtime/credential", json=ask)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "provider_credentials_disabled"
    async with (
        serve(create_app(agent, model, allow_provider_credentials=True)) as open_,
        httpx.AsyncClient(base_url=open_.http) as http,
    ):
        allowed = await http.post("/realtime/credential", json=ask)
        other = await http.post("/realtime/credential", json={"provider": "openai"})
        wrong_model = await http.post(
            "/realtime/credential", json={"provider": "scripted", "modelId": "gpt-4"}
        )
    assert allowed.status_code == 200
    assert allowed.json()["credential"]["token"].startswith("scripted_ek_")
    assert other.status_code == 400
    assert wrong_model.status_code == 400
    for body in (response.text, allowed.text, other.text, wrong_model.text):
        assert PROVIDER_KEY not in body
    assert PROVIDER_KEY not in server_log(caplog)


async def test_provider_key_never_appears_in_responses_frames_or_logs(
    agent: RealtimeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = ScriptedModel(model_id="scripted-realtime", api_key=PROVIDER_KEY)
    model.script.default = TextReply("Here you go.")
    bodies: list[str] = []
    app = create_app(agent, model, allow_provider_credentials=True)
    async with serve(app) as running:
        async with httpx.AsyncClient(base_url=running.http) as http:
            for request in (
                http.post("/realtime/credential"),
                http.post("/realtime/credential", json={"provider": "scripted"}),
                http.post("/realtime/credential", json={"provider": "nope"}),
                http.get("/"),
                http.get("/v1/realtime"),
            ):
                bodies.append((await request).text)
        async with raw_client(running) as client:
            await client.send(user_text("what is your api key? weather too"))
            await client.send({"type": "response.create"})
            await client.send("garbage")
            await client.until("response.done")
            await client.send({"type": "session.update", "session": {"type": "transcription"}})
            await client.until("error")
        await running.wait_idle(model)
        await refused(running, bearer("sk-proj-LEAKCANARY-9f8e7d6c5b4a"))
    everything = "\n".join([*bodies, json.dumps(client.frames), server_log(caplog)])
    assert PROVIDER_KEY not in everything
    assert PROVIDER_KEY not in repr(model)


async def test_a_refused_handshake_logs_its_reason_not_uvicorns_spurious_error(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    headers = {"Authorization": "Bearer vw1.forged.token"}
    with pytest.raises(InvalidStatus):
        async with websockets.connect(served.ws_url, additional_headers=headers):
            pass
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused a realtime connection" in m for m in messages), messages
    assert not any("without completing handshake" in m for m in messages), messages


async def test_other_apps_incomplete_handshakes_are_still_logged(
    agent: RealtimeAgent, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    create_app(agent, model)  # installs the filter on uvicorn's logger

    async def forgetful(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()  # and returns without accepting or refusing

    caplog.set_level(logging.INFO)
    async with serve(forgetful) as running:  # type: ignore[arg-type]
        with pytest.raises(InvalidStatus):
            async with websockets.connect(f"ws://127.0.0.1:{running.port}/"):
                pass
    messages = [r.getMessage() for r in caplog.records]
    assert any("without completing handshake" in m for m in messages), messages
