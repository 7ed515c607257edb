"""Ephemeral tokens on the fake Gemini server: minting over REST on the WebSocket's port, the
constrained endpoint, uses spent per new session (and per resumption when asked to), expiry."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.genai import types
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voicewire.testing.fake_gemini import FakeGeminiServer
from voicewire.testing.gemini_validation import validate_gemini_server

pytestmark = pytest.mark.timeout(20)

SETUP = {"setup": {"model": "models/gemini-2.5-flash-native-audio-preview-12-2025"}}


async def mint(
    server: FakeGeminiServer, body: dict[str, Any], key: str | None = "g-test"
) -> httpx.Response:
    headers = {"x-goog-api-key": key} if key is not None else {}
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{server.http_url}/v1alpha/auth_tokens", json=body, headers=headers
        )


async def open_with(
    server: FakeGeminiServer, token: str, setup: dict[str, Any] = SETUP
) -> ClientConnection:
    ws = await connect(f"{server.url(constrained=True)}?access_token={token}")
    with contextlib.suppress(ConnectionClosed):  # a refused token may be closed at once
        await ws.send(json.dumps(setup))
    return ws


async def first(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await ws.recv())
    assert validate_gemini_server(frame) == []
    return frame


async def closed_code(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat().replace("+00:00", "Z")


async def test_a_minted_token_matches_the_sdks_type_and_opens_a_session() -> None:
    async with FakeGeminiServer() as server:
        answer = await mint(server, {"uses": 1})
        assert answer.status_code == 200
        token = types.AuthToken.model_validate(answer.json())
        assert token.name is not None and token.name.startswith("auth_tokens/")
        assert token.uses == 1
        ws = await open_with(server, token.name)
        assert await first(ws) == {"setupComplete": {}}
        await ws.close()
        assert server.sessions[0].token == token.name
        assert server.violations == []


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [("wrong", 400, "API key not valid"), (None, 403, "unregistered callers")],
)
async def test_minting_needs_the_api_key(key: str | None, status: int, message: str) -> None:
    async with FakeGeminiServer() as server:
        answer = await mint(server, {}, key=key)
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]
    assert "wrong" not in answer.text


async def test_an_unknown_field_in_the_mint_request_is_refused() -> None:
    async with FakeGeminiServer() as server:
        answer = await mint(server, {"usesLeft": 3})
    assert answer.status_code == 400
    assert server.violations == ["auth_tokens: unknown keys ['usesLeft']"]


async def test_a_use_per_new_session_then_1011() -> None:
    async with FakeGeminiServer() as server:
        name = (await mint(server, {"uses": 1})).json()["name"]
        ws = await open_with(server, name)
        await first(ws)
        await ws.close()
        again = await open_with(server, name)
        code, reason = await closed_code(again)
    assert (code, reason) == (1011, "Token has been used too many times.")


@pytest.mark.parametrize(("spends", "code"), [(False, None), (True, 1011)])
async def test_resuming_spends_a_use_only_when_asked(spends: bool, code: int | None) -> None:
    async with FakeGeminiServer(resume_spends_use=spends) as server:
        name = (await mint(server, {"uses": 1})).json()["name"]
        ws = await open_with(server, name, {"setup": {**SETUP["setup"], "sessionResumption": {}}})
        await first(ws)
        handle = (await first(ws))["sessionResumptionUpdate"]["newHandle"]
        await ws.close()
        resumed = {"setup": {**SETUP["setup"], "sessionResumption": {"handle": handle}}}
        again = await open_with(server, name, resumed)
        if code is None:
            assert await first(again) == {"setupComplete": {}}
            await again.close()
        else:
            assert (await closed_code(again))[0] == code


async def test_expired_tokens_are_refused_1008() -> None:
    async with FakeGeminiServer() as server:
        past_start = (await mint(server, {"newSessionExpireTime": later(seconds=-1)})).json()
        code, reason = await closed_code(await open_with(server, past_start["name"]))
        assert code == 1008 and "newSessionExpireTime" in reason
        past = (await mint(server, {"expireTime": later(seconds=-1)})).json()
        assert (await closed_code(await open_with(server, past["name"])))[0] == 1008


async def test_an_unknown_token_and_a_key_on_the_constrained_endpoint_are_refused() -> None:
    async with FakeGeminiServer() as server:
        code, _ = await closed_code(await open_with(server, "auth_tokens/forged"))
        assert code == 1008
        ws = await open_with(server, "g-test")  # the API key is no token
        assert (await closed_code(ws))[0] == 1008
        assert server.sessions == []


async def test_the_sdk_style_token_header_is_accepted() -> None:
    async with FakeGeminiServer() as server:
        name = (await mint(server, {})).json()["name"]
        headers = {"Authorization": f"Token {name}", "x-goog-api-key": name}
        async with connect(server.url(constrained=True), additional_headers=headers) as ws:
            await ws.send(json.dumps(SETUP))
            assert await first(ws) == {"setupComplete": {}}


async def test_a_locked_setup_overrides_the_clients() -> None:
    locked = {
        "model": SETUP["setup"]["model"],
        "systemInstruction": {"parts": [{"text": "Locked."}]},
    }
    async with FakeGeminiServer() as server:
        name = (await mint(server, {"bidiGenerateContentSetup": locked})).json()["name"]
        setup = {"setup": {**SETUP["setup"], "systemInstruction": {"parts": [{"text": "Mine."}]}}}
        ws = await open_with(server, name, setup)
        await first(ws)
        await ws.close()
        assert server.session.setup["systemInstruction"] == {"parts": [{"text": "Locked."}]}


async def test_a_session_ends_when_its_token_expires() -> None:
    async with FakeGeminiServer() as server:
        name = (await mint(server, {"expireTime": later(seconds=0.5)})).json()["name"]
        ws = await open_with(server, name)
        assert await first(ws) == {"setupComplete": {}}
        left = server.tokens.tokens[name].expire_time - datetime.now(UTC)
        await asyncio.sleep(left.total_seconds() + 0.05)  # until the token's expireTime
        assert server.tokens.expired(name)
        await ws.send(json.dumps({"realtimeInput": {"text": "still there?"}}))
        code, reason = await closed_code(ws)
    assert (code, reason) == (1008, "The ephemeral token has expired.")
