"""The OpenAI-compatible LLM client, against a mock endpoint."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from voicewire.protocol import ConfigurationError
from voicewire.providers.local.llm import (
    ChatMessage,
    LLMRequest,
    LLMUsage,
    OpenAICompatibleLLM,
    TextDelta,
    ToolCallRequest,
)

from .sample_tools import WEATHER


def sse(*chunks: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def test_openai_compatible_endpoint_streams_text_and_tool_calls() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "tiny-model"}]})
        bodies.append(json.loads(req.content))
        assert req.headers["authorization"] == "Bearer k"
        return httpx.Response(
            200,
            content=sse(
                {"choices": [{"delta": {"content": "Let me "}}]},
                {"choices": [{"delta": {"content": "check."}}]},
                {
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "call_9",
                                        "function": {"name": "get_weather", "arguments": '{"ci'},
                                    }
                                ]
                            }
                        }
                    ]
                },
                {
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [{"index": 0, "function": {"arguments": 'ty":1}'}}]
                            }
                        }
                    ]
                },
                {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5}},
            ),
            headers={"content-type": "text/event-stream"},
        )

    llm = OpenAICompatibleLLM(
        "http://llm.test/v1/", api_key="k", transport=httpx.MockTransport(handler)
    )
    llm.load()
    assert llm.model == "tiny-model"
    history = (
        ChatMessage("user", "weather?"),
        ChatMessage("assistant", "", ToolCallRequest("get_weather", '{"city":"A"}', "c1")),
        ChatMessage("tool", "sunny", tool_call_id="c1", name="get_weather"),
        ChatMessage("user", "and in B?"),
    )
    events = list(llm.stream(LLMRequest("Be brief.", history, (WEATHER,)), threading.Event()))
    assert events == [
        TextDelta("Let me "),
        TextDelta("check."),
        ToolCallRequest("get_weather", '{"city":1}', "call_9"),
        LLMUsage(12, 5, 0),
    ]
    body = bodies[0]
    assert body["model"] == "tiny-model" and body["stream"] is True
    assert body["tools"][0]["function"]["name"] == "get_weather"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert body["messages"][2]["tool_calls"][0]["id"] == "c1"
    assert body["messages"][3]["tool_call_id"] == "c1"


def test_openai_compatible_endpoint_errors_are_configuration_errors() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="no such model")

    llm = OpenAICompatibleLLM("http://llm.test/v1", "m", transport=httpx.MockTransport(refuse))
    with pytest.raises(ConfigurationError, match="HTTP 404"):
        list(llm.stream(LLMRequest("x", (ChatMessage("user", "hi"),)), threading.Event()))
    unlisted = OpenAICompatibleLLM("http://llm.test/v1", transport=httpx.MockTransport(refuse))
    with pytest.raises(ConfigurationError, match="llm_model"):
        unlisted.load()
