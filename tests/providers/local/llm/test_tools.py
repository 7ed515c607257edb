"""Tool routing: which tools a reply may call, and the JSON schema a grammar decodes them with."""

from __future__ import annotations

from typing import Any

from voicewire.providers.local.llm import (
    ChatMessage,
    LLMRequest,
    ToolCallRequest,
    decision_schema,
    offered_tools,
)

from .sample_tools import TIMER, WEATHER


def test_decision_schema_offers_an_answer_or_each_tool() -> None:
    schema = decision_schema([WEATHER, TIMER], allow_answer=True)
    options = schema["anyOf"]
    assert options[0]["required"] == ["answer"]
    assert [o["properties"]["tool"]["enum"] for o in options[1:]] == [
        ["get_weather"],
        ["set_timer"],
    ]
    only = decision_schema([WEATHER], allow_answer=False)
    assert only["properties"]["arguments"] == WEATHER.parameters


def request(text: str, choice: str = "auto", *more: ChatMessage) -> LLMRequest:
    return LLMRequest("Be brief.", (ChatMessage("user", text), *more), (WEATHER, TIMER), choice)


def test_keyword_routing_offers_only_tools_the_user_talks_about() -> None:
    def names(req: LLMRequest, routing: Any = "keywords") -> list[str]:
        return [t.name for t in offered_tools(req, routing)]

    assert names(request("What's the weather like in Paris?")) == ["get_weather"]
    assert names(request("Start a timer for 5 minutes")) == ["set_timer"]
    assert names(request("Tell me a joke")) == []
    assert names(request("Tell me a joke"), "model") == ["get_weather", "set_timer"]
    assert names(request("What's the weather?", "none")) == []
    assert names(request("Tell me a joke", "required")) == ["get_weather", "set_timer"]
    assert names(request("anything", "set_timer")) == ["set_timer"]
    after_result = request(
        "weather in Paris?",
        "auto",
        ChatMessage("assistant", "", ToolCallRequest("get_weather", "{}", "c1")),
        ChatMessage("tool", '{"sky": "sunny"}', tool_call_id="c1", name="get_weather"),
    )
    assert names(after_result) == []  # now answer with the result
