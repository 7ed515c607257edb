"""One live session with the local model: a streaming VAD -> STT -> LLM -> TTS pipeline behind
the :class:`~voicewire.protocol.RealtimeConnection` interface.

Client events are handled in order by one worker task. Voice activity detection runs inline (it
is cheap); speech-to-text, the language model and text-to-speech run in worker threads so the
event loop stays responsive. What the pipeline says comes out as the neutral server events a
cloud model sends, in the same order.

Latency levers (end of speech -> first audio):

- speculation: when the user goes quiet (``pause``, ~64 ms of silence) the utterance is
  transcribed and a response generated at once, while the VAD still waits out the silence that
  ends the turn; its events are held back until the turn ends, and dropped if the user resumes;
- whisper runs on a short window instead of 30 s (see :mod:`.stt`);
- the LLM's system prompt stays in the llama.cpp KV cache (warmed on ``session.update``);
- speech starts with the first clause, not the first sentence.

Barge-in: speech that starts while a response is being generated cancels it at once (the LLM
stops at its next token, pending TTS output is dropped) and is reported with
``response.interrupted`` and ``response.done`` (``cancelled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ...audio import AudioConverter, bytes_to_ms, ms_to_bytes
from ...protocol import (
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCleared,
    AudioInputCommit,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ClientEvent,
    ConnectionClosedError,
    Item,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ItemTruncate,
    ItemTruncated,
    MessageItem,
    Modality,
    RealtimeError,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ResponseStatus,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdate,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    TextPart,
    ToolCall,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    ToolStart,
    TranscriptInput,
    TranscriptOutput,
    TranscriptOutputDelta,
    TransportStatus,
    TurnDetection,
    Usage,
)
from ..event_stream import EventStream, StreamConnection
from .engines import Engines
from .llm import ChatMessage, LLMRequest, LLMUsage, TextDelta, ToolCallRequest
from .stt import Transcript
from .text import ClauseSplitter, speakable
from .vad import SAMPLE_RATE, VadEvent, VoiceActivityDetector

log = logging.getLogger("voicewire.local")

LOCAL_VOICES: Final = ("en_US-joe-medium", "joe")
"""The voice ids the local model answers to (piper's one bundled voice)."""

DEFAULT_FORMAT = AudioFormat.pcm16(24000)
STT_FORMAT = AudioFormat.pcm16(SAMPLE_RATE)
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. Answer briefly, in one or two short sentences."
)

_END = object()


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """Pipeline settings that have no place in :class:`SessionConfig` (or defaults for it)."""

    silence_duration_ms: int = 400
    """End of turn after this much silence, unless the session's turn detection says otherwise
    (piper and people pause ~300 ms at a comma; speculation hides most of the wait)."""
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    min_speech_ms: int = 96
    """Speech must last this long before ``speech.started`` (and barge-in)."""
    speculate: bool = True
    """Transcribe and start answering during the end-of-turn silence (see the module doc)."""
    pause_ms: int = 64
    trailing_pad_ms: int = 200
    """Audio kept after the end of speech for STT (tight cuts lose final consonants)."""
    first_clause_words: int = 2
    """Speak the first clause once it has this many words (later clauses wait for more)."""
    first_clause_max_words: int = 6
    """... or, without punctuation, once it has this many."""
    max_output_tokens: int = 160
    temperature: float = 0.3
    webrtc_gate: bool = True
    history_items: int = 24
    output_chunk_ms: int = 100
    max_utterance_s: float = 30.0


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _ms(samples: int) -> int:
    return int(samples * 1000 / SAMPLE_RATE)


class _InputBuffer:
    """The 16 kHz input stream with absolute sample positions; old audio is trimmed away."""

    def __init__(self) -> None:
        self._chunks: list[NDArray[np.int16]] = []
        self.start = 0
        self.end = 0

    def append(self, samples: NDArray[np.int16]) -> None:
        if samples.size:
            self._chunks.append(samples)
            self.end += samples.size

    def _joined(self) -> NDArray[np.int16]:
        if len(self._chunks) != 1:
            joined = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            self._chunks = [joined] if joined.size else []
        return self._chunks[0] if self._chunks else np.zeros(0, np.int16)

    def slice(self, begin: int, end: int) -> NDArray[np.int16]:
        data = self._joined()
        a = max(begin, self.start) - self.start
        b = min(end, self.end) - self.start
        return data[a:b] if b > a else np.zeros(0, np.int16)

    def trim_before(self, position: int) -> None:
        if position <= self.start:
            return
        data = self._joined()
        cut = min(position, self.end) - self.start
        rest = data[cut:]
        self._chunks = [rest] if rest.size else []
        self.start += cut

    def clear(self) -> None:
        self._chunks = []
        self.start = self.end


@dataclass
class _Turn:
    """One user utterance found by the VAD, from ``speech.started`` to its end."""

    item_id: str
    start: int
    generation: int = 0
    """Bumped when speech resumes after a pause: work started at the pause is stale."""
    spec_generation: int = -1
    spec_end: int = 0
    spec_stt: asyncio.Task[Transcript] | None = None
    spec_response: _Response | None = None


class _Response:
    def __init__(self, response_id: str, config: ResponseConfig | None, *, visible: bool) -> None:
        self.id = response_id
        self.config = config
        self.visible = visible
        """Events go out as they happen; a speculative response holds them until adopted."""
        self.held: list[ServerEvent] = []
        self.cancel = threading.Event()
        self.tts_idle = threading.Event()
        self.tts_idle.set()
        self.task: asyncio.Task[None] | None = None
        self.started = False
        """``response.created`` was emitted (the client knows of this response)."""
        self.finished = False
        """No more events will be produced (done, failed or cancelled)."""
        self.cancelled = False
        self.held_ops: list[Callable[[], None]] = []
        self.marks: dict[str, float] = {}
        self.item_id: str | None = None
        self.audio = True
        self.spoken: list[tuple[str, float, float]] = []
        """(clause, start ms, end ms) of the audio sent so far."""
        self.audio_ms = 0.0
        self.text = ""
        self.usage: LLMUsage | None = None
        self.user_text: str | None = None
        """For a speculative response: the transcript it answers."""
        self.history_version = -1


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
        self._options = options or LocalOptions()
        self.model_id = model_id
        self._loop = asyncio.get_running_loop()
        self._stream = EventStream()
        self._session_id = _new_id("sess")
        self._inbox: asyncio.Queue[ClientEvent | object] = asyncio.Queue()
        self._config = SessionConfig()
        self._input_format = DEFAULT_FORMAT
        self._output_format = DEFAULT_FORMAT
        self._in_converter = AudioConverter(self._input_format, STT_FORMAT)
        self._buffer = _InputBuffer()
        self._vad = VoiceActivityDetector(
            engines.vad,
            threshold=self._options.threshold,
            silence_ms=self._options.silence_duration_ms,
            min_speech_ms=self._options.min_speech_ms,
            pause_ms=self._options.pause_ms,
            webrtc_gate=self._options.webrtc_gate,
        )
        self._turn: _Turn | None = None
        self._manual_item: str | None = None
        self._items: dict[str, Item] = {}
        self._order: list[str] = []
        self._history_version = 0
        self._spoken: dict[str, list[tuple[str, float, float]]] = {}
        self._transcripts: dict[str, asyncio.Task[str]] = {}
        self._responses: list[_Response] = []
        """Responses created and not finished, oldest first (at most one emits at a time)."""
        self._tail: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._warmed: str | None = None
        self._noted: set[str] = set()  # unsupported settings already warned about
        self.timings: dict[str, float] = {}
        """Monotonic times of the latest turn's milestones (for benchmarks)."""
        self._emit(SessionCreated(self._session_id))
        self._worker = asyncio.create_task(self._work(), name="local-worker")

    # -- RealtimeConnection ------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def history(self) -> list[Item]:
        """The conversation as the model will see it next (truncated where the user cut in)."""
        return [self._items[i] for i in self._order]

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
        for response in list(self._responses):
            response.cancel.set()
            response.finished = True
            if response.task is not None:
                response.task.cancel()
        if self._turn is not None and self._turn.spec_response is not None:
            self._turn.spec_response.cancel.set()
        self._worker.cancel()
        for task in list(self._background):
            task.cancel()
        tasks = [self._worker, *self._background]
        tasks += [r.task for r in self._responses if r.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._stream.end()

    # -- emitting ----------------------------------------------------------------------------

    def _emit(self, event: ServerEvent) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        self._stream.put(event)

    def _emit_for(self, response: _Response, event: ServerEvent) -> None:
        if response.cancelled:
            return
        if isinstance(event, ResponseCreated):
            response.started = True
        if response.visible:
            self._emit(event)
        else:
            response.held.append(event)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
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

    async def _handle(self, event: ClientEvent) -> None:
        if isinstance(event, AudioInputAppend):
            await self._on_audio(event.audio)
        elif isinstance(event, SessionUpdate):
            self._apply_config(event.config)
            self._emit(SessionUpdated(self._session_id))
        elif isinstance(event, AudioInputCommit):
            self._on_commit()
        elif isinstance(event, ResponseCreate):
            self._start_response(event.config)
        elif isinstance(event, ToolResult):
            result = ToolResultItem(_new_id("item"), event.call_id, event.output, event.name)
            self._add_item(result)
        elif isinstance(event, ItemCreate):
            item: Item = event.item
            if item.id is None:
                item = replace(item, id=_new_id("item"))
            self._add_item(item, event.previous_item_id)
        elif isinstance(event, ItemDelete):
            if event.item_id in self._items:
                del self._items[event.item_id]
                self._order.remove(event.item_id)
                self._history_version += 1
            self._emit(ItemDeleted(event.item_id))
        elif isinstance(event, ItemTruncate):
            self._truncate(event.item_id, event.audio_end_ms, event.content_index)
        elif isinstance(event, AudioInputClear):
            self._buffer.clear()
            self._in_converter.reset()
            self._vad.reset()
            self._vad_position_base = self._buffer.end
            self._drop_turn()
            self._emit(AudioInputCleared())
        elif isinstance(event, ResponseCancel):
            for response in list(self._responses):
                if event.response_id in (None, response.id):
                    self._cancel(response, interrupted=False, reason="client_cancelled")
        elif isinstance(event, ActivityStart):
            self._buffer.clear()
            item_id = _new_id("item")
            self._manual_item = item_id
            self._emit(SpeechStarted(item_id, _ms(self._buffer.end)))
            self._barge_in()
        elif isinstance(event, ActivityEnd):
            committed = self._commit_buffer(self._manual_item)
            self._manual_item = None
            if committed and self._turn_detection().create_response:
                self._start_response(None)

    # -- configuration -----------------------------------------------------------------------

    def _turn_detection(self) -> TurnDetection:
        return self._config.turn_detection or TurnDetection(
            "server_vad", silence_duration_ms=self._options.silence_duration_ms
        )

    def _note_unsupported(self, config: SessionConfig) -> None:
        """Say once, in the log, what of the config the offline stack cannot honour: it has one
        voice and an English-only transcriber. (A session configured for a cloud model keeps
        working here, which is the point of a local fallback; hence a warning, not an error.)"""
        voice = config.voice.voice_id if config.voice else None
        if voice not in (None, *LOCAL_VOICES) and voice not in self._noted:
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

    def _server_vad(self) -> bool:
        return self._turn_detection().mode != "manual"

    def _apply_config(self, config: SessionConfig) -> None:
        old = self._config
        self._config = config
        self._note_unsupported(config)
        input_format = config.input_audio_format or DEFAULT_FORMAT
        if input_format != self._input_format:
            self._input_format = input_format
            self._in_converter = AudioConverter(input_format, STT_FORMAT)
        self._output_format = config.output_audio_format or DEFAULT_FORMAT
        td = self._turn_detection()
        self._vad.configure(
            threshold=td.threshold if td.threshold is not None else self._options.threshold,
            silence_ms=(
                td.silence_duration_ms
                if td.silence_duration_ms is not None
                else self._options.silence_duration_ms
            ),
        )
        old_mode = (old.turn_detection or TurnDetection()).mode
        if (old_mode == "manual") != (td.mode == "manual"):
            self._vad.reset()
            self._vad_position_base = self._buffer.end
            self._drop_turn()
        instructions = self._instructions(None)
        if instructions != self._warmed:
            self._warmed = instructions
            request = LLMRequest(instructions, ())
            self._spawn(asyncio.to_thread(self._engines.llm.warm, request), "local-llm-warm")

    def _instructions(self, config: ResponseConfig | None) -> str:
        if config is not None and config.instructions:
            return config.instructions
        return self._config.instructions or DEFAULT_INSTRUCTIONS

    # -- conversation items ------------------------------------------------------------------

    def _last_item_id(self) -> str | None:
        return self._order[-1] if self._order else None

    def _add_item(self, item: Item, previous_item_id: str | None = None) -> None:
        assert item.id is not None
        previous = previous_item_id if previous_item_id in self._items else self._last_item_id()
        if item.id in self._items:
            self._items[item.id] = item
        else:
            self._items[item.id] = item
            if previous_item_id in self._items:
                self._order.insert(self._order.index(previous_item_id) + 1, item.id)
            else:
                self._order.append(item.id)
        self._history_version += 1
        self._emit(ItemCreated(item, previous))

    def _set_item_text(self, item_id: str, text: str) -> None:
        item = self._items.get(item_id)
        if isinstance(item, MessageItem):
            if any(isinstance(p, AudioPart) for p in item.content):
                self._items[item_id] = replace(item, content=(AudioPart(transcript=text),))
            else:
                self._items[item_id] = replace(item, content=(TextPart(text),))
            self._history_version += 1

    def _truncate(self, item_id: str, audio_end_ms: int, content_index: int) -> None:
        segments = self._spoken.get(item_id)
        item = self._items.get(item_id)
        if segments is None or not isinstance(item, MessageItem):
            self._emit(
                SessionError(
                    "item_truncate_invalid_item_id",
                    f"no assistant audio item {item_id!r} to truncate",
                )
            )
            return
        self._set_item_text(item_id, heard_text(segments, audio_end_ms))
        self._emit(ItemTruncated(item_id, audio_end_ms, content_index))

    def _chat(self) -> list[ChatMessage]:
        messages: list[ChatMessage] = []
        ids = self._order[-self._options.history_items :]
        for item_id in ids:
            item = self._items[item_id]
            if isinstance(item, MessageItem):
                text = item.text.strip()
                if text:
                    messages.append(ChatMessage(item.role, text))
            elif isinstance(item, ToolCallItem):
                call = ToolCallRequest(item.name, item.arguments, item.call_id)
                messages.append(ChatMessage("assistant", "", tool_call=call))
            else:
                messages.append(
                    ChatMessage("tool", item.output, tool_call_id=item.call_id, name=item.name)
                )
        while messages and messages[0].role == "tool":
            messages.pop(0)
        return messages

    # -- input audio and turns -----------------------------------------------------------------

    _vad_position_base = 0
    """Buffer position at which the VAD's own sample count restarted (after a reset)."""

    async def _on_audio(self, audio: bytes) -> None:
        pcm = self._in_converter.convert(audio)
        if not pcm:
            return
        samples = np.frombuffer(pcm, dtype=np.int16)
        self._buffer.append(samples)
        if not self._server_vad():
            limit = int(self._options.max_utterance_s * 2 * SAMPLE_RATE)
            if self._buffer.end - self._buffer.start > limit:
                self._buffer.trim_before(self._buffer.end - limit)  # keep the latest minute
            return
        if samples.size > 16 * 512:
            events = await asyncio.to_thread(self._vad.feed, samples)
        else:
            events = self._vad.feed(samples)
        for event in events:
            self._on_vad(VadEvent(event.kind, event.sample + self._vad_position_base))
        turn = self._turn
        if turn is None:
            keep = int((self._prefix_ms() + 500) * SAMPLE_RATE / 1000)
            self._buffer.trim_before(self._buffer.end - keep)
        elif self._buffer.end - turn.start > self._options.max_utterance_s * SAMPLE_RATE:
            forced = self._vad.force_end()
            if forced is not None:
                self._end_turn(turn, forced.sample + self._vad_position_base)

    def _prefix_ms(self) -> int:
        td = self._turn_detection()
        if td.prefix_padding_ms is not None:
            return td.prefix_padding_ms
        return self._options.prefix_padding_ms

    def _on_vad(self, event: VadEvent) -> None:
        turn = self._turn
        if event.kind == "start":
            self._turn = _Turn(_new_id("item"), event.sample)
            self.timings["speech_started"] = self._loop.time()
            self._emit(SpeechStarted(self._turn.item_id, _ms(event.sample)))
            if self._turn_detection().interrupt_response:
                self._barge_in()
        elif turn is None:
            return
        elif event.kind == "pause":
            if self._options.speculate:
                self._speculate(turn, event.sample)
        elif event.kind == "resume":
            turn.generation += 1
            self._drop_speculation(turn)
        elif event.kind == "end":
            self._end_turn(turn, event.sample)

    def _segment(self, start: int, end: int) -> NDArray[np.float32]:
        begin = start - int(self._prefix_ms() * SAMPLE_RATE / 1000)
        pad = int(self._options.trailing_pad_ms * SAMPLE_RATE / 1000)
        audio = self._buffer.slice(begin, end + pad).astype(np.float32) / 32768.0
        missing = (end + pad) - min(end + pad, self._buffer.end)
        if missing > 0:
            audio = np.concatenate([audio, np.zeros(missing, dtype=np.float32)])
        return audio

    def _transcribe(self, audio: NDArray[np.float32]) -> asyncio.Task[Transcript]:
        stt = self._engines.stt
        return self._spawn(asyncio.to_thread(stt.transcribe, audio), "local-stt")

    def _speculate(self, turn: _Turn, end: int) -> None:
        self._drop_speculation(turn)
        turn.spec_generation = turn.generation
        turn.spec_end = end
        task = self._transcribe(self._segment(turn.start, end))
        turn.spec_stt = task
        generation = turn.generation

        def transcribed(done: asyncio.Task[Transcript]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            if self._turn is not turn or turn.generation != generation:
                return
            if self.status is not TransportStatus.CONNECTED:
                return
            text = done.result().text
            if not text or not self._turn_detection().create_response:
                return
            if self._responses or self._transcripts_pending():
                return  # something else is going on: answer after the turn ends
            response = _Response(_new_id("resp"), None, visible=False)
            response.user_text = text
            response.history_version = self._history_version
            turn.spec_response = response
            messages = [*self._chat(), ChatMessage("user", text)]
            response.task = self._spawn(
                self._run_response(response, messages), f"local-spec-{response.id}"
            )

        task.add_done_callback(transcribed)

    def _drop_speculation(self, turn: _Turn) -> None:
        response = turn.spec_response
        turn.spec_response = None
        if response is not None:
            self._drop_response(response)

    def _drop_turn(self) -> None:
        if self._turn is not None:
            self._drop_speculation(self._turn)
        self._turn = None

    def _transcripts_pending(self) -> bool:
        return any(not t.done() for t in self._transcripts.values())

    def _end_turn(self, turn: _Turn, end: int) -> None:
        self._turn = None
        self.timings = {"turn_end": self._loop.time()}
        self._emit(SpeechStopped(turn.item_id, _ms(end)))
        fresh = turn.spec_stt is not None and turn.spec_generation == turn.generation
        if fresh and turn.spec_end == end and turn.spec_stt is not None:
            stt = turn.spec_stt
        else:
            self._drop_speculation(turn)
            stt = self._transcribe(self._segment(turn.start, end))
        self._commit_item(turn.item_id, stt)
        keep_from = end + int(self._options.trailing_pad_ms * SAMPLE_RATE / 1000)
        self._buffer.trim_before(min(keep_from, self._buffer.end))
        if not self._turn_detection().create_response:
            self._drop_speculation(turn)
            return
        if not (fresh and turn.spec_end == end):
            self._drop_speculation(turn)
        self._take_speculation(turn)

    def _commit_item(self, item_id: str, stt: asyncio.Task[Transcript]) -> None:
        previous = self._last_item_id()
        self._emit(AudioInputCommitted(item_id, previous))
        self._add_item(MessageItem(item_id, "user", (AudioPart(),), "completed"))
        self._transcripts[item_id] = self._spawn(
            self._finish_transcript(item_id, stt), f"local-transcript-{item_id}"
        )

    async def _finish_transcript(self, item_id: str, stt: asyncio.Task[Transcript]) -> str:
        try:
            transcript = await stt
            text = transcript.text
            self.timings["stt_seconds"] = transcript.seconds
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("speech-to-text failed")
            self._emit(SessionError("transcription_failed", f"speech-to-text failed: {exc}"))
            text = ""
        self.timings["transcribed"] = self._loop.time()
        if item_id in self._items:
            self._set_item_text(item_id, text)
        self._emit(TranscriptInput(item_id, text))
        self._transcripts.pop(item_id, None)
        return text

    def _on_commit(self) -> None:
        if self._server_vad():
            turn = self._turn
            forced = self._vad.force_end()
            if turn is not None and forced is not None:
                self._end_turn(turn, forced.sample + self._vad_position_base)
                return
            self._emit(
                SessionError(
                    "input_audio_buffer_commit_empty",
                    "no speech in the input audio buffer to commit",
                )
            )
            return
        self._commit_buffer(None)

    def _commit_buffer(self, item_id: str | None) -> bool:
        """Manual turn detection: everything appended since the last commit is one turn."""
        start, end = self._buffer.start, self._buffer.end
        if end - start < SAMPLE_RATE // 10:
            self._emit(
                SessionError(
                    "input_audio_buffer_commit_empty",
                    f"the input audio buffer holds {_ms(end - start)} ms of audio; "
                    "at least 100 ms are needed to commit",
                )
            )
            return False
        audio = self._buffer.slice(start, end).astype(np.float32) / 32768.0
        pad = np.zeros(int(self._options.trailing_pad_ms * SAMPLE_RATE / 1000), np.float32)
        self.timings["turn_end"] = self._loop.time()
        stt = self._transcribe(np.concatenate([audio, pad]))
        self._commit_item(item_id or _new_id("item"), stt)
        self._buffer.clear()
        return True

    # -- responses ---------------------------------------------------------------------------

    def _barge_in(self) -> None:
        for response in list(self._responses):
            self._cancel(response, interrupted=True, reason="turn_detected")

    def _cancel(self, response: _Response, *, interrupted: bool, reason: str) -> None:
        """Stop ``response`` now: its LLM stops at the next token, nothing more is emitted."""
        if response.cancelled or (response.finished and response.visible):
            return
        response.cancel.set()
        if response.started and response.visible:
            if interrupted:
                self._emit(
                    ResponseInterrupted(response.id, response.item_id, int(response.audio_ms))
                )
            self._close_message(response, completed=False)
            self._emit(ResponseDone(response.id, "cancelled", _usage(response.usage), reason))
        response.cancelled = True
        response.finished = True
        if response in self._responses:
            self._responses.remove(response)
        if response.task is not None:
            response.task.cancel()

    def _start_response(self, config: ResponseConfig | None) -> None:
        response = _Response(_new_id("resp"), config, visible=True)
        self._responses.append(response)
        previous = self._tail
        response.task = self._spawn(self._queued_response(response, previous), response.id)
        self._tail = response.task

    async def _queued_response(
        self, response: _Response, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None and not previous.done():
            with contextlib.suppress(BaseException):
                await asyncio.shield(previous)
        pending = list(self._transcripts.values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if response.finished:
            return
        if not self._has_new_content():
            # Nothing was said (silence or noise transcribed to nothing): no response.
            response.cancelled = response.finished = True
            if response in self._responses:
                self._responses.remove(response)
            return
        await self._run_response(response, self._chat())

    def _has_new_content(self) -> bool:
        for item_id in reversed(self._order):
            item = self._items[item_id]
            if isinstance(item, ToolResultItem):
                return True
            if isinstance(item, MessageItem):
                return item.role == "user" and bool(item.text.strip())
        return False

    def _take_speculation(self, turn: _Turn) -> None:
        """The turn ended: keep its speculative response if it answers exactly this turn."""
        response = turn.spec_response
        turn.spec_response = None
        if response is None:
            self._start_response(None)
            return
        if response.history_version != self._history_version - 1 or self._responses:
            self._drop_response(response)
            self._start_response(None)
            return
        self._responses.append(response)
        self._tail = response.task
        self._spawn(self._adopt(response, turn.item_id), "local-adopt")

    async def _adopt(self, response: _Response, item_id: str) -> None:
        transcript = self._transcripts.get(item_id)
        if transcript is not None:
            await asyncio.gather(transcript, return_exceptions=True)
        item = self._items.get(item_id)
        text = item.text if isinstance(item, MessageItem) else None
        if response.cancelled:
            return  # barge-in or close meanwhile
        if text != response.user_text:
            self._cancel(response, interrupted=False, reason="stale")
            self._start_response(None)
            return
        response.visible = True
        held, response.held = response.held, []
        for event in held:
            self._emit(event)
        ops, response.held_ops = response.held_ops, []
        for op in ops:
            op()
        self.timings.update(response.marks)
        if response.finished and response in self._responses:
            self._responses.remove(response)

    def _drop_response(self, response: _Response) -> None:
        response.cancel.set()
        response.cancelled = response.finished = True
        if response in self._responses:
            self._responses.remove(response)
        if response.task is not None:
            response.task.cancel()

    def _mark(self, response: _Response, name: str) -> None:
        if name in response.marks:
            return
        response.marks[name] = self._loop.time()
        if response.visible:
            self.timings[name] = response.marks[name]

    def _record(self, response: _Response, op: Callable[[], None]) -> None:
        """Change the history for ``response`` now, or when a speculative one is adopted."""
        if response.cancelled and not response.visible:
            return
        if response.visible:
            op()
        else:
            response.held_ops.append(op)

    def _request(self, response: _Response, messages: Sequence[ChatMessage]) -> LLMRequest:
        config = response.config
        tools = config.tools if config is not None and config.tools is not None else None
        choice = config.tool_choice if config is not None and config.tool_choice else None
        max_tokens = config.max_output_tokens if config is not None else None
        return LLMRequest(
            self._instructions(config),
            messages,
            tuple(tools if tools is not None else self._config.tools),
            choice or self._config.tool_choice or "auto",
            max_tokens or self._config.max_output_tokens or self._options.max_output_tokens,
            self._options.temperature,
        )

    def _modalities(self, config: ResponseConfig | None) -> Sequence[Modality]:
        if config is not None and config.modalities is not None:
            return config.modalities
        return self._config.modalities or ("audio",)

    async def _run_response(self, response: _Response, messages: Sequence[ChatMessage]) -> None:
        request = self._request(response, messages)
        response.audio = "audio" in self._modalities(response.config)
        queue: asyncio.Queue[object] = asyncio.Queue()
        loop = self._loop
        llm = self._engines.llm

        def post(value: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, value)

        def pump() -> None:
            # Between tokens the LLM waits while piper speaks: on two cores the two compete,
            # and the clause being synthesised is what the listener waits for.
            try:
                for event in llm.stream(request, response.cancel):
                    while not response.tts_idle.wait(0.05):
                        if response.cancel.is_set():
                            break
                    if response.cancel.is_set():
                        break
                    post(event)
            except BaseException as exc:
                post(exc)
            finally:
                post(_END)

        self._mark(response, "llm_start")
        self._emit_for(response, ResponseCreated(response.id))
        loop.run_in_executor(None, pump)
        splitter = ClauseSplitter(
            first_min_words=self._options.first_clause_words,
            first_max_words=self._options.first_clause_max_words,
        )
        tts_format = AudioFormat.pcm16(self._engines.tts.sample_rate)
        converter = AudioConverter(tts_format, self._output_format)
        calls: list[ToolCallRequest] = []
        try:
            while True:
                event = await queue.get()
                if event is _END:
                    break
                if isinstance(event, BaseException):
                    raise event
                if isinstance(event, TextDelta):
                    self._mark(response, "first_token")
                    self._open_message(response)
                    response.text += event.text
                    if response.audio:
                        for clause in splitter.feed(event.text):
                            await self._speak(response, clause, converter)
                    else:
                        delta = TextOutputDelta(response.id, response.item_id, event.text)
                        self._emit_for(response, delta)
                elif isinstance(event, ToolCallRequest):
                    calls.append(event)
                elif isinstance(event, LLMUsage):
                    response.usage = event
            if response.audio:
                for clause in splitter.flush():
                    await self._speak(response, clause, converter)
                tail = converter.flush()
                if tail and response.item_id is not None and not response.cancelled:
                    self._emit_audio(response, tail)
        except asyncio.CancelledError:
            response.cancel.set()
            raise
        except RealtimeError as exc:
            self._fail(response, exc.code, exc.message)
            return
        except Exception as exc:
            log.exception("the local model's response failed")
            self._fail(response, "response_failed", f"{type(exc).__name__}: {exc}")
            return
        if response.cancelled:
            return
        self._close_message(response, completed=True)
        for call in calls:
            self._emit_call(response, call)
        self._finish(response, "completed")

    def _fail(self, response: _Response, code: str, message: str) -> None:
        if response.cancelled:
            return
        self._emit_for(response, SessionError(code, message))
        self._close_message(response, completed=False)
        self._finish(response, "failed", message)

    def _finish(
        self, response: _Response, status: ResponseStatus, reason: str | None = None
    ) -> None:
        self._emit_for(response, ResponseDone(response.id, status, _usage(response.usage), reason))
        response.finished = True
        if response.visible and response in self._responses:
            self._responses.remove(response)

    def _open_message(self, response: _Response) -> None:
        if response.item_id is not None:
            return
        response.item_id = _new_id("item")
        item = MessageItem(
            response.item_id,
            "assistant",
            (AudioPart(),) if response.audio else (TextPart(""),),
            "in_progress",
        )
        previous = self._last_item_id() if response.visible else None
        self._emit_for(response, ItemCreated(item, previous))

    def _close_message(self, response: _Response, *, completed: bool) -> None:
        """Emit the end of the assistant message and record what was said in the history."""
        item_id = response.item_id
        if item_id is None:
            return
        part: AudioPart | TextPart
        if response.audio:
            said = " ".join(clause for clause, _, _ in response.spoken)
            self._emit_for(response, AudioOutputDone(response.id, item_id))
            self._emit_for(response, TranscriptOutput(response.id, item_id, said))
            part = AudioPart(transcript=said)
        else:
            said = response.text.strip()
            self._emit_for(response, TextOutput(response.id, item_id, said))
            part = TextPart(said)
        item = MessageItem(
            item_id, "assistant", (part,), "completed" if completed else "incomplete"
        )
        spoken = list(response.spoken)

        def record() -> None:
            if item_id not in self._items:
                self._order.append(item_id)
            self._items[item_id] = item
            if spoken:
                self._spoken[item_id] = spoken
            self._history_version += 1

        self._record(response, record)

    def _emit_call(self, response: _Response, call: ToolCallRequest) -> None:
        call_id = call.call_id or _new_id("call")
        item_id = _new_id("item")
        item = ToolCallItem(item_id, call_id, call.name, call.arguments, "completed")
        previous = self._last_item_id() if response.visible else None
        self._emit_for(response, ItemCreated(item, previous))

        def record() -> None:
            self._items[item_id] = item
            self._order.append(item_id)
            self._history_version += 1

        self._record(response, record)
        self._emit_for(response, ToolStart(call_id, call.name, item_id, response.id))
        self._emit_for(response, ToolCall(call_id, call.name, call.arguments, item_id, response.id))

    async def _speak(self, response: _Response, clause: str, converter: AudioConverter) -> None:
        """Synthesize one clause and send it: its transcript delta, then its audio."""
        self._mark(response, "first_clause")
        text = speakable(clause)
        speed = (self._config.voice.speed if self._config.voice else None) or 1.0
        samples = None
        if text:
            response.tts_idle.clear()
            try:
                samples = await asyncio.to_thread(self._engines.tts.synthesize, text, speed)
            finally:
                response.tts_idle.set()
        if response.cancel.is_set() or response.finished:
            return
        delta = clause if not response.spoken else " " + clause
        self._emit_for(response, TranscriptOutputDelta(response.id, response.item_id, delta))
        start = response.audio_ms
        if samples is not None and samples.size:
            self._mark(response, "first_audio")
            self._emit_audio(response, converter.convert(samples.tobytes()))
        response.spoken.append((clause, start, response.audio_ms))

    def _emit_audio(self, response: _Response, audio: bytes) -> None:
        chunk = max(ms_to_bytes(self._options.output_chunk_ms, self._output_format), 2)
        for offset in range(0, len(audio), chunk):
            piece = audio[offset : offset + chunk]
            delta = AudioOutputDelta.from_bytes(response.id, response.item_id, piece)
            self._emit_for(response, delta)
            response.audio_ms += bytes_to_ms(len(piece), self._output_format)


def heard_text(segments: Sequence[tuple[str, float, float]], audio_end_ms: float) -> str:
    """The words of ``segments`` (clause, start ms, end ms) heard up to ``audio_end_ms``; a clause
    cut in the middle keeps the share of its words that was played."""
    words: list[str] = []
    for clause, start, end in segments:
        if audio_end_ms >= end:
            words.append(clause)
            continue
        if audio_end_ms > start and end > start:
            parts = clause.split()
            keep = int(len(parts) * (audio_end_ms - start) / (end - start))
            if keep:
                words.append(" ".join(parts[:keep]))
        break
    return re.sub(r"\s+", " ", " ".join(words)).strip()


def _usage(usage: LLMUsage | None) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
        input_text_tokens=usage.input_tokens,
        input_cached_tokens=usage.cached_tokens,
        output_text_tokens=usage.output_tokens,
    )


def _log_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("local model task %s failed: %r", task.get_name(), exc)
