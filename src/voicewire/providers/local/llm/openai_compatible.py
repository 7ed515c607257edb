"""The OpenAI-compatible backend: any ``/chat/completions`` endpoint (Ollama, llama.cpp server,
vLLM, ...) over httpx, with its native tool calling."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ....protocol import ConfigurationError
from .interface import LLMEvent, LLMRequest, LLMUsage, TextDelta, ToolCallRequest
from .tools import argument_schema, offered_tools


@dataclass
class OpenAICompatibleLLM:
    """Any OpenAI-compatible chat-completions endpoint: ``base_url`` like
    ``http://localhost:11434/v1`` (Ollama), ``http://localhost:8080/v1`` (llama.cpp server) or a
    vLLM server. ``model`` defaults to the first model the endpoint lists. Tools use the
    endpoint's native tool calling."""

    base_url: str
    model: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if "#" in self.base_url and self.model is None:
            self.base_url, _, self.model = self.base_url.partition("#")

    @property
    def name(self) -> str:
        return self.model or self.base_url

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                self._client = httpx.Client(
                    timeout=self.timeout, headers=headers, transport=self.transport
                )
            return self._client

    def load(self) -> None:
        if self.model is not None:
            return
        try:
            response = self._http().get(f"{self.base_url}/models")
            response.raise_for_status()
            models = response.json().get("data") or []
            self.model = str(models[0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ConfigurationError(
                f"could not list the models of {self.base_url} ({exc}); pass the model name: "
                f"realtime('{self.base_url}', llm_model='...')"
            ) from None

    def warm(self, request: LLMRequest) -> None:
        return None

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.instructions:
            messages.append({"role": "system", "content": request.instructions})
        for m in request.messages:
            if m.tool_call is not None:
                messages.append(
                    {
                        "role": "assistant",
                        "content": m.content or None,
                        "tool_calls": [
                            {
                                "id": m.tool_call.call_id or "call_0",
                                "type": "function",
                                "function": {
                                    "name": m.tool_call.name,
                                    "arguments": m.tool_call.arguments,
                                },
                            }
                        ],
                    }
                )
            elif m.role == "tool":
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": m.tool_call_id or "call_0",
                        "content": m.content,
                    }
                )
            else:
                messages.append({"role": m.role, "content": m.content})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream_options": {"include_usage": True},
        }
        tools = offered_tools(request, "model")
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": argument_schema(t),
                    },
                }
                for t in tools
            ]
            choice = request.tool_choice
            if choice in ("auto", "required"):
                body["tool_choice"] = choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": choice}}
        body.update(self.extra_body)
        return body

    def stream(self, request: LLMRequest, cancel: threading.Event) -> Iterator[LLMEvent]:
        self.load()
        calls: dict[int, dict[str, str]] = {}
        usage = LLMUsage()
        try:
            with self._http().stream(
                "POST", f"{self.base_url}/chat/completions", json=self._body(request)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ConfigurationError(
                        f"{self.base_url} refused the chat request "
                        f"(HTTP {response.status_code}): {response.text[:300]}"
                    )
                for line in response.iter_lines():
                    if cancel.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError:
                        continue
                    usage = _usage_of(chunk) or usage
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        content = delta.get("content")
                        if isinstance(content, str) and content:
                            yield TextDelta(content)
                        for call in delta.get("tool_calls") or []:
                            slot = calls.setdefault(
                                int(call.get("index", 0)), {"id": "", "name": "", "arguments": ""}
                            )
                            function = call.get("function") or {}
                            slot["id"] = call.get("id") or slot["id"]
                            slot["name"] += function.get("name") or ""
                            slot["arguments"] += function.get("arguments") or ""
        except httpx.HTTPError as exc:
            raise ConfigurationError(f"the LLM endpoint {self.base_url} failed: {exc}") from None
        for index in sorted(calls):
            slot = calls[index]
            if slot["name"]:
                yield ToolCallRequest(slot["name"], slot["arguments"] or "{}", slot["id"] or None)
        yield usage


def _usage_of(chunk: Mapping[str, Any]) -> LLMUsage | None:
    usage = chunk.get("usage")
    if not isinstance(usage, Mapping):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens", 0) if isinstance(details, Mapping) else 0
    return LLMUsage(
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        int(cached or 0),
    )
