"""Connection facts are an Endpoint beside the model, apart from the wire's Dialect: each shipped
provider has its own, and a model dials, authenticates and pings by the one it is given."""

from __future__ import annotations

import dataclasses

import pytest

from voicewire.openai_wire.dialect import OPENAI, XAI
from voicewire.protocol import AuthenticationError
from voicewire.providers import openai, xai
from voicewire.providers.keepalive import Keepalive
from voicewire.providers.openai_protocol.endpoint import (
    OPENAI_ENDPOINT,
    XAI_ENDPOINT,
    Endpoint,
    endpoint_for,
)
from voicewire.providers.openai_protocol.model import OpenAIProtocolModel


def test_each_shipped_dialect_has_its_endpoint() -> None:
    assert endpoint_for(OPENAI) is OPENAI_ENDPOINT
    assert endpoint_for(XAI) is XAI_ENDPOINT
    assert openai.realtime(api_key="k").endpoint is OPENAI_ENDPOINT
    assert xai.realtime(api_key="k").endpoint is XAI_ENDPOINT
    assert openai.realtime(api_key="k").base_url == "wss://api.openai.com/v1"
    assert xai.realtime(api_key="k").rest_base_url == "https://api.x.ai/v1"


def test_a_dialect_of_your_own_needs_an_endpoint_of_your_own() -> None:
    mine = dataclasses.replace(OPENAI, name="mine")
    with pytest.raises(ValueError, match="endpoint=Endpoint"):
        endpoint_for(mine)
    endpoint: Endpoint = dataclasses.replace(
        OPENAI_ENDPOINT,
        default_base_url="wss://voice.example/v1",
        rest_base_url="https://voice.example/v1",
        keepalive=Keepalive(ping_interval=1.0, ping_timeout=1.0),
    )
    model = OpenAIProtocolModel(mine, "m", endpoint=endpoint)
    assert model.url == "wss://voice.example/v1/realtime?model=m"
    assert model.rest_base_url == "https://voice.example/v1"
    assert model.keepalive == endpoint.keepalive


def test_the_api_key_comes_from_the_endpoints_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("XAI_API_KEY", "from-env")
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        openai.realtime()._api_key_or_raise()
    assert xai.realtime()._api_key_or_raise() == "from-env"
