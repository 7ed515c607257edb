"""The shared REST call for short-lived credentials: its errors name the provider and the
purpose, quote the refusal, and never the key."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from voicewire.protocol import AuthenticationError
from voicewire.providers.credential_request import request_credential

KEY = "plain-key-42"  # no shape the generic masking knows: only the key itself masks it


async def _sign(http: httpx.AsyncClient, **request: Any) -> httpx.Response:
    return await request_credential(
        http,
        "GET",
        "http://acme.test/sign",
        provider="acme",
        purpose="sign a URL",
        key=KEY,
        **request,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_provider_is_a_specific_error_without_the_key() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/mint?key={KEY}"
    with pytest.raises(AuthenticationError) as raised:
        await request_credential(
            None, "POST", url, provider="acme", purpose="mint a token", key=KEY
        )
    assert str(raised.value).startswith("could not reach acme to mint a token: ")
    assert KEY not in str(raised.value)


@pytest.mark.parametrize(("status", "hinted"), [(401, True), (503, False)])
async def test_a_refusal_quotes_the_answer_masked_and_hints_only_on_4xx(
    status: int, hinted: bool
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-key"] == KEY
        return httpx.Response(status, text=f"bad key {KEY}; try again")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(AuthenticationError) as raised:
            await _sign(http, hint=" (check the key)", headers={"x-key": KEY})
        assert not http.is_closed  # the app's client stays open
    message = str(raised.value)
    assert f"acme refused to sign a URL (HTTP {status})" in message
    assert ("(check the key)" in message) is hinted
    assert "bad key ***; try again" in message and KEY not in message


async def test_an_accepted_request_returns_the_answer_with_its_parameters() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        response = await _sign(http, params={"agent_id": "a1"})
    assert response.json() == {"ok": True}
    assert [(r.method, r.url.params["agent_id"]) for r in seen] == [("GET", "a1")]
