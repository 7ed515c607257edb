"""One live session with the local model: a streaming VAD -> STT -> LLM -> TTS pipeline behind
the :class:`~voicewire.protocol.RealtimeConnection` interface.

Client events are handled in order by one worker task. Voice activity detection runs inline (it
is cheap); speech-to-text, the language model and text-to-speech run in worker threads so the
event loop stays responsive. What the pipeline says comes out as the neutral server events a
cloud model sends, in the same order.

This module is the connection's surface (status, ``send``, ``close``, the session config); the
work is done by its parts:

- :mod:`.turns`: input audio, voice activity, the user's turns and their transcripts, and
  speculation (answering from the first pause, held back until the turn ends);
- :mod:`.responder`: the LLM -> TTS run of each response, and its cancellation;
- :mod:`.conversation`: the items the model sees.

Latency levers (end of speech -> first audio):

- speculation (see :mod:`.turns`);
- whisper runs on a short window instead of 30 s (see :mod:`.stt`);
- the LLM's system prompt stays in the llama.cpp KV cache (warmed on ``session.update``);
- speech starts with the first clause, not the first sentence.

Barge-in: speech that starts while a response is being generated cancels it at once (the LLM
stops at its next token, pending TTS output is dropped) and is reported with
``response.interrupted`` and ``response.done`` (``cancelled``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from ...protocol import (
    ActivityEnd,
    ActivityStart,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    ClientEvent,
    ConnectionClosedError,
    Item,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ItemTruncate,
    ItemTruncated,
    RealtimeError,
    ResponseCancel,
    ResponseCreate,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdate,
    SessionUpdated,
    ToolResult,
    ToolResultItem,
    TransportStatus,
)
from ..event_stream import EventStream, StreamConnection
from .conversation import heard_text
from .engines import Engines
from .llm import LLMRequest
from .options import (
    DEFAULT_FORMAT,
    DEFAULT_INSTRUCTIONS,
    LOCAL_VOICES,
    STT_FORMAT,
    LocalOptions,
    new_id,
)
from .responder import Responder
from .session_state import SessionState
from .smart_turn import check_available
from .tts import voice_path
from .turns import TurnEnd, TurnTaker

__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_INSTRUCTIONS",
    "LOCAL_VOICES",
    "STT_FORMAT",
    "LocalConnection",
    "LocalOptions",
    "heard_text",
]

log = logging.getLogger("voicewire.local")


class LocalConnection(StreamConnection):
    """A :class:`~voicewire.protocol.RealtimeConnection` to the local pipeline."""

    provider = "local"

    def __init__(
        self,
        engines: Engines,
        options: LocalOptions | None = None,
        *,
        model_id: str = "local",
    ) -> None:
        self._engines = engines
        self.model_id = model_id
        self._stream = EventStream()
        self._session_id = new_id("sess")
        self._inbox: asyncio.Queue[ClientEvent | object] = asyncio.Queue()
        self._background: set[asyncio.Task[Any]] = set()
        self._state = SessionState(
            engines,
            options or LocalOptions(),
            asyncio.get_running_loop(),
            emit=self._emit,
            spawn=self._spawn,
            connected=lambda: self.status is TransportStatus.CONNECTED,
        )
        self._conversation = self._state.conversation
        transcripts: dict[str, asyncio.Task[str]] = {}
        self._responder = Responder(self._state, transcripts)
        self._turns = TurnTaker(self._state, self._responder, transcripts)
        self._warmed: str | None = None
        self._noted: set[str] = set()  # unsupported settings already warned about
        self.delivered = 0
        """Client events the pipeline has taken in, in order (the
        :class:`~voicewire.protocol.ReportsDelivery` hook): counted once handled, so the voice
        detection has seen every delivered chunk of audio and reported any speech start in it."""
        self._emit(SessionCreated(self._session_id))
        self._worker = asyncio.create_task(self._work(), name="local-worker")

    # -- RealtimeConnection ------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def config(self) -> SessionConfig:
        return self._state.config

    @property
    def history(self) -> list[Item]:
        """The conversation as the model will see it next (truncated where the user cut in)."""
        return self._conversation.history

    @property
    def timings(self) -> dict[str, float]:
        """Monotonic times of the latest turn's milestones (for benchmarks)."""
        return self._state.timings

    @property
    def turn_ends(self) -> list[TurnEnd]:
        """How the latest user turns ended (by silence, by meaning, at the cap, ...), oldest
        first: the last 64."""
        return list(self._turns.ends)

    def send(self, event: ClientEvent) -> None:
        if self.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(
                f"cannot send {event.kind}: the local connection is {self.status}"
            )
        self._inbox.put_nowait(event)

    async def close(self) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        self._stream.set_status(TransportStatus.CLOSED)
        responses = self._responder.close()
        self._turns.close()
        self._worker.cancel()
        for task in list(self._background):
            task.cancel()
        tasks = [self._worker, *self._background, *responses]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._stream.end()

    # -- emitting ----------------------------------------------------------------------------

    def _emit(self, event: ServerEvent) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        self._stream.put(event)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task

    # -- the worker: client events in order ----------------------------------------------------

    async def _work(self) -> None:
        while True:
            event = await self._inbox.get()
            try:
                await self._handle(event)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except RealtimeError as exc:
                self._emit(SessionError(exc.code, exc.message))
            except Exception as exc:
                log.exception("the local model failed on %s", getattr(event, "kind", event))
                self._emit(SessionError("internal_error", f"{type(exc).__name__}: {exc}"))
            self.delivered += 1

    async def _handle(self, event: ClientEvent) -> None:
        if isinstance(event, AudioInputAppend):
            await self._turns.on_audio(event.audio)
        elif isinstance(event, SessionUpdate):
            self._apply_config(event.config)
            self._emit(SessionUpdated(self._session_id))
        elif isinstance(event, AudioInputCommit):
            self._turns.on_commit()
        elif isinstance(event, ResponseCreate):
            self._responder.start(event.config)
        elif isinstance(event, ToolResult):
            result = ToolResultItem(new_id("item"), event.call_id, event.output, event.name)
            self._add_item(result)
        elif isinstance(event, ItemCreate):
            item: Item = event.item
            if item.id is None:
                item = replace(item, id=new_id("item"))
            self._add_item(item, event.previous_item_id)
        elif isinstance(event, ItemDelete):
            self._conversation.delete(event.item_id)
            self._emit(ItemDeleted(event.item_id))
        elif isinstance(event, ItemTruncate):
            self._truncate(event.item_id, event.audio_end_ms, event.content_index)
        elif isinstance(event, AudioInputClear):
            self._turns.clear()
        elif isinstance(event, ResponseCancel):
            self._responder.cancel_matching(event.response_id)
        elif isinstance(event, ActivityStart):
            self._turns.activity_start()
        elif isinstance(event, ActivityEnd):
            self._turns.activity_end()

    # -- configuration -----------------------------------------------------------------------

    def _note_unsupported(self, config: SessionConfig) -> None:
        """Say once, in the log, what of the config the offline stack cannot honour: it has one
        voice and an English-only transcriber. (A session configured for a cloud model keeps
        working here, which is the point of a local fallback; hence a warning, not an error.)"""
        voice = config.voice.voice_id if config.voice else None
        spoken_by_joe = voice_path(voice, self._state.options.voices_dir) is None
        named = voice not in (None, *LOCAL_VOICES) and spoken_by_joe
        if voice is not None and named and voice not in self._noted:
            self._noted.add(voice)
            log.warning(
                "the local model has one voice (%s); voice %r is spoken with it",
                LOCAL_VOICES[0],
                voice,
            )
        language = config.transcription.language if config.transcription else None
        if language and not language.lower().startswith("en") and language not in self._noted:
            self._noted.add(language)
            log.warning(
                "the local model transcribes English only (whisper tiny.en); language %r is "
                "transcribed as English",
                language,
            )

    def _apply_config(self, config: SessionConfig) -> None:
        check_available(config.turn_detection)  # semantic_vad without Smart Turn: refused
        voice = config.voice.voice_id if config.voice else None
        # A voice of the server's voices directory; a missing file or one elsewhere: refused.
        engines = self._engines.speaking(voice, self._state.options.voices_dir)
        state = self._state
        if engines.tts is not state.engines.tts:
            self._spawn(asyncio.to_thread(engines.tts.load), "local-voice-load")
        state.engines = engines
        old = state.config
        state.config = config
        self._note_unsupported(config)
        state.output_format = config.output_audio_format or DEFAULT_FORMAT
        self._turns.configure(old, state.turn_detection())
        instructions = state.instructions(None)
        if instructions != self._warmed:
            self._warmed = instructions
            request = LLMRequest(instructions, ())
            self._spawn(asyncio.to_thread(self._engines.llm.warm, request), "local-llm-warm")

    # -- conversation items ------------------------------------------------------------------

    def _add_item(self, item: Item, previous_item_id: str | None = None) -> None:
        previous = self._conversation.add(item, previous_item_id)
        self._emit(ItemCreated(item, previous))

    def _truncate(self, item_id: str, audio_end_ms: int, content_index: int) -> None:
        if not self._conversation.truncate(item_id, audio_end_ms):
            self._emit(
                SessionError(
                    "item_truncate_invalid_item_id",
                    f"no assistant audio item {item_id!r} to truncate",
                )
            )
            return
        self._emit(ItemTruncated(item_id, audio_end_ms, content_index))


def _log_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("local model task %s failed: %r", task.get_name(), exc)
