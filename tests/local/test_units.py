"""The local model's pure parts (no models loaded): clauses, JSON replies, truncation, routing,
the OpenAI-compatible LLM client, and the error for a missing extra."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from voicewire.protocol import ConfigurationError, ToolDefinition
from voicewire.providers.local import _deps, heard_text
from voicewire.providers.local.llm import (
    ChatMessage,
    JsonReplyParser,
    LLMRequest,
    LLMUsage,
    OpenAICompatibleLLM,
    TextDelta,
    ToolCallRequest,
    decision_schema,
    make_llm,
    offered_tools,
)
from voicewire.providers.local.stt import drop_repeats
from voicewire.providers.local.text import ClauseSplitter, speakable

WEATHER = ToolDefinition(
    "get_weather",
    "Get the current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIMER = ToolDefinition(
    "set_timer",
    "Start a countdown timer.",
    {"type": "object", "properties": {"minutes": {"type": "integer"}}},
)


def split_stream(text: str, **kwargs: Any) -> list[str]:
    splitter = ClauseSplitter(**kwargs)
    out: list[str] = []
    for i in range(0, len(text), 3):  # token-sized pieces
        out.extend(splitter.feed(text[i : i + 3]))
    return out + splitter.flush()


def test_clauses_speak_the_first_words_early_and_keep_numbers_whole() -> None:
    text = "Sure! The capital of France is Paris, a city of 2.1 million people. Anything else?"
    assert split_stream(text) == [
        "Sure!",
        "The capital of France is Paris,",
        "a city of 2.1 million people.",
        "Anything else?",
    ]


def test_short_clauses_wait_for_enough_words_and_long_runs_are_cut() -> None:
    assert split_stream("Well, yes, I think so, really.", min_words=5) == [
        "Well, yes,",
        "I think so, really.",
    ]
    long = " ".join(["word"] * 30)
    clauses = split_stream(long + ".", max_words=10)
    assert len(clauses) >= 2
    assert " ".join(clauses).split() == (long + ".").split()


def test_speakable_drops_markdown_and_emoji() -> None:
    assert speakable("**Hello** `world` 🎉 — fine.") == "Hello world — fine."


def test_json_answer_streams_character_by_character_with_escapes() -> None:
    raw = '{ "answer": "Say \\"hi\\"\\nnow \\u00e9" }'
    parser = JsonReplyParser()
    text = "".join(parser.feed(ch) for ch in raw)
    assert text == 'Say "hi"\nnow é'
    assert parser.finish() is None


def test_json_tool_call_is_returned_at_the_end() -> None:
    raw = '{ "tool": "get_weather", "arguments": { "city": "Paris" } }'
    parser = JsonReplyParser()
    assert "".join(parser.feed(raw[i : i + 4]) for i in range(0, len(raw), 4)) == ""
    assert parser.finish() == ToolCallRequest("get_weather", '{"city":"Paris"}')


def test_broken_tool_json_is_no_call() -> None:
    parser = JsonReplyParser()
    parser.feed('{"tool": "get_weather", "arguments": {"ci')
    assert parser.finish() is None


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


def test_heard_text_keeps_whole_clauses_and_the_played_share_of_the_cut_one() -> None:
    segments = [("Hello there.", 0.0, 1000.0), ("One two three four.", 1000.0, 2000.0)]
    assert heard_text(segments, 5000) == "Hello there. One two three four."
    assert heard_text(segments, 1500) == "Hello there. One two"
    assert heard_text(segments, 999) == "Hello"
    assert heard_text(segments, 400) == ""
    assert heard_text(segments, 0) == ""


def test_whisper_loops_are_dropped() -> None:
    assert drop_repeats("What is the capital of France? What is the capital") == (
        "What is the capital of France?"
    )
    assert drop_repeats("Hello? Hello? Hello? Hello") == "Hello?"
    assert drop_repeats("Yes. No. Yes.") == "Yes. No. Yes."


def test_missing_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicewire.providers import local

    # only piper missing, whatever is installed here
    monkeypatch.setattr(_deps, "available", lambda name: name != "piper")
    with pytest.raises(ConfigurationError) as caught:
        local.realtime()
    assert 'pip install "voicewire[local]"' in str(caught.value)
    assert "piper-tts" in str(caught.value)
    with pytest.raises(ConfigurationError, match="voicewire\\[local\\]"):
        _deps.require("surely_not_a_module_xyz", "testing")


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


def test_an_llm_url_or_path_picks_the_implementation(tmp_path: Any) -> None:
    by_url = make_llm("http://localhost:11434/v1#llama3.2")
    assert isinstance(by_url, OpenAICompatibleLLM)
    assert (by_url.base_url, by_url.model) == ("http://localhost:11434/v1", "llama3.2")
    with pytest.raises(ConfigurationError, match="no GGUF"):
        make_llm(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigurationError, match="LocalLLM"):
        make_llm(42)  # type: ignore[arg-type]
