"""``ScriptedConnection``: one session of a :class:`~voicewire.testing.ScriptedModel`.

It answers neutral client events with neutral server events in the order a real provider would
(see :mod:`voicewire.testing.scripted_model` for the behaviour). Its turn rules are the fake
realtime server's, from the same modules: the energy VAD (:mod:`voicewire.testing.energy_vad`),
the responder (:mod:`voicewire.testing.responder`) and the conversation store
(:mod:`voicewire.protocol.conversation`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from voicewire.audio import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputCleared,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ClientEvent,
    ConnectionClosedError,
    ConnectOptions,
    Item,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ItemStatus,
    ItemTruncate,
    ItemTruncated,
    MessageItem,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
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
    ToolDelta,
    ToolResult,
    ToolResultItem,
    ToolStart,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    TranscriptOutputDelta,
    TransportStatus,
    TurnDetection,
    Usage,
)
from voicewire.protocol.conversation import OrderedItems
from voicewire.providers.event_stream import EventStream, StreamConnection

from .energy_vad import (
    DEFAULT_PREFIX_PADDING_MS,
    DEFAULT_SILENCE_MS,
    EnergyVad,
    SpeechStart,
    VadSettings,
)
from .responder import (
    WORDS,
    ResponseRun,
    answers_in_text,
    choose_reply,
    speech_chunks,
    stream_speech,
    stream_text,
)
from .script import AudioReply, Reply, TextReply, ToolCallReply

if TYPE_CHECKING:
    from .scripted_model import ScriptedModel

__all__ = ["ScriptedConnection"]

_MAX_BUFFER_BYTES = 16 * 2**20


class ScriptedConnection(StreamConnection):
    """One scripted model session (a :class:`~voicewire.protocol.RealtimeConnection`).

    Attributes:
        config: the session configuration as last updated.
        items: the conversation, in order (a new list; :attr:`conversation` is the store).
        committed: the input audio of each committed user turn (not kept in echo mode).
    """

    def __init__(self, model: ScriptedModel, options: ConnectOptions, session_id: str) -> None:
        self._model = model
        self._session_id = session_id
        self._stream = EventStream()
        self._ids = model.ids
        self.config: SessionConfig = options.session_config or SessionConfig()
        self.conversation: OrderedItems[Item] = OrderedItems()
        self.committed: list[bytes] = []
        self._heard: dict[str, str] = {}
        self._calls: dict[str, ToolCallReply] = {}
        self._buffer = bytearray()
        self._run: ResponseRun | None = None
        self._echo_ids: tuple[str, str] | None = None
        self._vad = EnergyVad()
        self._handlers: dict[str, Callable[[Any], None]] = {
            "session.update": self._on_session_update,
            "item.create": self._on_item_create,
            "item.delete": self._on_item_delete,
            "item.truncate": self._on_item_truncate,
            "audio.input.append": self._on_append,
            "audio.input.commit": self._on_commit,
            "audio.input.clear": self._on_clear,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "tool.result": self._on_tool_result,
        }
        self._emit(SessionCreated(session_id))
        if options.session_config is not None:
            self._emit(SessionUpdated(session_id))

    # -- RealtimeConnection ----------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def items(self) -> list[Item]:
        return self.conversation.values()

    def send(self, event: ClientEvent) -> None:
        if self._stream.status is not TransportStatus.CONNECTED:
            raise ConnectionClosedError(f"cannot send {event.kind}: the scripted model is closed")
        if isinstance(event, AudioInputAppend) and self._model.echo:
            self._on_append(event)  # the load benchmark's path: one call per frame per session
            return
        self._model._record(event)
        handler = self._handlers.get(event.kind)
        if handler is None:
            self._error("unsupported_event", f"the scripted model does not handle {event.kind}")
            return
        handler(event)

    async def close(self) -> None:
        if self.status is TransportStatus.CLOSED:
            return
        was = self.status
        self._stream.set_status(TransportStatus.CLOSED)
        run, self._run = self._run, None
        if run is not None and run.task is not None:
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
        if was is TransportStatus.CONNECTED:
            self._stream.end()
        with contextlib.suppress(ValueError):
            self._model.connections.remove(self)

    async def drop(self, reason: str = "the scripted model dropped the connection") -> None:
        """Lose the link as a provider would: a fatal ``connection_lost`` error, then the event
        stream ends and the status is ``disconnected`` (for tests of what happens upstream)."""
        if self.status is not TransportStatus.CONNECTED:
            return
        self._stream.set_status(TransportStatus.DISCONNECTED)
        run, self._run = self._run, None
        if run is not None and run.task is not None:
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
        self._emit(SessionError("connection_lost", reason, fatal=True))
        self._stream.end()
        with contextlib.suppress(ValueError):
            self._model.connections.remove(self)

    # -- helpers ---------------------------------------------------------------------------------

    def _emit(self, event: ServerEvent) -> None:
        self._stream.put(event)

    def _error(self, code: str, message: str) -> None:
        self._emit(SessionError(code, message))

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_scripted{next(self._ids):06d}"

    def _last_id(self) -> str | None:
        return self.conversation.last_id()

    @property
    def _input_format(self) -> AudioFormat:
        return self.config.input_audio_format or AudioFormat.pcm16()

    @property
    def _output_format(self) -> AudioFormat:
        return self.config.output_audio_format or AudioFormat.pcm16()

    @property
    def _turn_detection(self) -> TurnDetection:
        return self.config.turn_detection or TurnDetection()

    # -- session and items -----------------------------------------------------------------------

    def _on_session_update(self, event: SessionUpdate) -> None:
        self.config = event.config
        self._emit(SessionUpdated(self._session_id))

    def _on_item_create(self, event: ItemCreate) -> None:
        item = event.item
        item_id = item.id or self._new_id("item")
        if item_id in self.conversation:
            self._error("item_already_exists", f"item {item_id!r} already exists")
            return
        stored = replace(item, id=item_id)
        if isinstance(stored, MessageItem) and stored.status is None:
            stored = replace(stored, status="completed")
        after = event.previous_item_id
        if after is not None and after not in self.conversation:
            self._error("item_not_found", f"previous item {after!r}")
            return
        previous = self.conversation.insert_after(item_id, stored, after)
        self._emit(ItemCreated(stored, previous))

    def _on_item_delete(self, event: ItemDelete) -> None:
        if self.conversation.delete(event.item_id) is None:
            self._error("item_not_found", f"cannot delete unknown item {event.item_id!r}")
            return
        self._emit(ItemDeleted(event.item_id))

    def _on_item_truncate(self, event: ItemTruncate) -> None:
        if event.item_id not in self.conversation:
            self._error("item_not_found", f"cannot truncate unknown item {event.item_id!r}")
            return
        self._emit(ItemTruncated(event.item_id, event.audio_end_ms, event.content_index))

    def _on_tool_result(self, event: ToolResult) -> None:
        item_id = self._new_id("item")
        item = ToolResultItem(item_id, event.call_id, event.output, event.name)
        previous = self.conversation.append(item_id, item)
        self._emit(ItemCreated(item, previous))

    # -- input audio -----------------------------------------------------------------------------

    def _on_append(self, event: AudioInputAppend) -> None:
        audio = event.audio
        self._model.input_audio_bytes += len(audio)
        if self._model.echo:
            self._echo(audio)
            return
        self._buffer.extend(audio)
        if len(self._buffer) > _MAX_BUFFER_BYTES:
            del self._buffer[: len(self._buffer) - _MAX_BUFFER_BYTES]
        self._detect_speech(audio)

    def _echo(self, audio: bytes) -> None:
        if self._echo_ids is None:
            self._echo_ids = (self._new_id("resp"), self._new_id("item"))
            response_id, item_id = self._echo_ids
            self._emit(ResponseCreated(response_id))
            self._emit(ItemCreated(MessageItem(item_id, "assistant", (), "in_progress")))
        response_id, item_id = self._echo_ids
        self._emit(AudioOutputDelta.from_bytes(response_id, item_id, audio))

    def _on_commit(self, event: Any) -> None:
        if self._model.echo:
            ids, self._echo_ids = self._echo_ids, None
            self._emit(AudioInputCommitted(self._new_id("item"), self._last_id()))
            if ids is not None:
                self._emit(AudioOutputDone(*ids))
                self._emit(ResponseDone(ids[0], "completed", Usage()))
            return
        self._commit(None)

    def _on_clear(self, event: Any) -> None:
        self._buffer.clear()
        self._vad.clear()
        self._emit(AudioInputCleared())

    def _commit(self, item_id: str | None) -> bool:
        if not self._buffer:
            self._error(
                "input_audio_buffer_commit_empty", "cannot commit: the input audio buffer is empty"
            )
            return False
        self.committed.append(bytes(self._buffer))
        self._buffer.clear()
        self._vad.commit()
        item_id = item_id or self._new_id("item")
        previous = self._last_id()
        self._emit(AudioInputCommitted(item_id, previous))
        heard = self._model.script.next_transcript()
        self._emit(ItemCreated(MessageItem(item_id, "user", (AudioPart(),), "completed"), previous))
        self.conversation.append(
            item_id, MessageItem(item_id, "user", (AudioPart(heard),), "completed")
        )
        self._heard[item_id] = heard
        for word in WORDS.findall(heard):
            self._emit(TranscriptInputDelta(item_id, word))
        self._emit(TranscriptInput(item_id, heard))
        return True

    def _detect_speech(self, audio: bytes) -> None:
        fmt = self._input_format
        if fmt.encoding == "pcmu":
            audio = ulaw_to_pcm16(audio)
        elif fmt.encoding == "pcma":
            audio = alaw_to_pcm16(audio)
        turn = self._turn_detection
        settings = None if turn.mode == "manual" else _vad_settings(turn)
        threshold = self._model.vad_rms_threshold
        for heard in self._vad.feed(audio, fmt.sample_rate, threshold, settings):
            if isinstance(heard, SpeechStart):
                self._speech_started(turn, heard.audio_start_ms)
            else:
                self._speech_stopped(turn, heard.audio_end_ms)

    def _speech_started(self, turn: TurnDetection, audio_start_ms: int) -> None:
        self._vad.speech_item_id = item_id = self._new_id("item")
        self._emit(SpeechStarted(item_id, audio_start_ms))
        if self._run is not None and turn.interrupt_response:
            self._run.cancel("turn_detected")

    def _speech_stopped(self, turn: TurnDetection, audio_end_ms: int) -> None:
        item_id = self._vad.speech_item_id
        self._emit(SpeechStopped(item_id, audio_end_ms))
        if self._commit(item_id) and turn.create_response and self._run is None:
            self._start_response(None)

    # -- responses -------------------------------------------------------------------------------

    def _on_response_create(self, event: ResponseCreate) -> None:
        if self._run is not None:
            self._error(
                "conversation_already_has_active_response",
                f"response {self._run.id} is still in progress",
            )
            return
        self._start_response(event.config)

    def _on_response_cancel(self, event: ResponseCancel) -> None:
        run = self._run
        if run is None or (event.response_id is not None and event.response_id != run.id):
            self._error("response_cancel_not_active", "there is no active response to cancel")
            return
        run.cancel("client_cancelled")

    def _start_response(self, config: ResponseConfig | None) -> None:
        run = ResponseRun(self._new_id("resp"))
        self._run = run
        run.task = asyncio.create_task(self._respond(run, self._choose(), config))

    def _choose(self) -> Reply:
        last = self.conversation.last()
        return choose_reply(
            self._model.script,
            self._calls,
            tool_output_call_id=last.call_id if isinstance(last, ToolResultItem) else None,
            user_text=self._latest_user_text(),
        )

    def _latest_user_text(self) -> str | None:
        for item in reversed(self.conversation.values()):
            if isinstance(item, MessageItem) and item.role == "user":
                text = " ".join(p.text for p in item.content if isinstance(p, TextPart) and p.text)
                return text or self._heard.get(item.id or "") or item.text or None
        return None

    async def _respond(self, run: ResponseRun, reply: Reply, config: ResponseConfig | None) -> None:
        self._emit(ResponseCreated(run.id))
        modalities = (config.modalities if config else None) or self.config.modalities
        produced = ""
        if isinstance(reply, ToolCallReply):
            produced = self._tool_call(run, reply)
        elif answers_in_text(reply, modalities):
            text = reply.text if isinstance(reply, TextReply) else reply.transcript
            produced = await self._text(run, text, reply.pace)
        else:
            assert isinstance(reply, AudioReply)
            produced = await self._audio(run, reply)
        if self._run is run:
            self._run = None
        cancelled = run.cancelled
        self._emit(
            ResponseDone(
                run.id,
                "cancelled" if cancelled else "completed",
                self._usage(produced),
                run.reason if cancelled else None,
            )
        )

    def _open_message(self, run: ResponseRun) -> str:
        item_id = self._new_id("item")
        item = MessageItem(item_id, "assistant", (), "in_progress")
        self._emit(ItemCreated(item, self._last_id()))
        self.conversation.append(item_id, item)
        return item_id

    def _close_message(self, run: ResponseRun, item_id: str, part: TextPart | AudioPart) -> None:
        if item_id in self.conversation:
            status: ItemStatus = "incomplete" if run.cancelled else "completed"
            self.conversation.replace(item_id, MessageItem(item_id, "assistant", (part,), status))

    async def _text(self, run: ResponseRun, text: str, pace: float) -> str:
        item_id = self._open_message(run)

        async def say(word: str) -> None:
            self._emit(TextOutputDelta(run.id, item_id, word))

        full = await stream_text(run, text, pace, say)
        self._emit(TextOutput(run.id, item_id, full))
        self._close_message(run, item_id, TextPart(full))
        return full

    async def _audio(self, run: ResponseRun, reply: AudioReply) -> str:
        item_id = self._open_message(run)
        fmt = self._output_format

        async def say(word: str) -> None:
            self._emit(TranscriptOutputDelta(run.id, item_id, word))

        async def play(chunk: bytes) -> None:
            self._emit(AudioOutputDelta.from_bytes(run.id, item_id, chunk))

        chunks = speech_chunks(reply, fmt.sample_rate, fmt.bits // 8, lambda pcm: _encode(pcm, fmt))
        transcript = await stream_speech(
            run, chunks, reply.transcript, reply.pace, say=say, play=play
        )
        self._emit(AudioOutputDone(run.id, item_id))
        self._emit(TranscriptOutput(run.id, item_id, transcript))
        self._close_message(run, item_id, AudioPart(transcript))
        return transcript

    def _tool_call(self, run: ResponseRun, reply: ToolCallReply) -> str:
        call_id = reply.call_id or self._new_id("call")
        item_id = self._new_id("item")
        arguments = reply.arguments_json
        started = ToolCallItem(item_id, call_id, reply.name, "", "in_progress")
        self._emit(ItemCreated(started, self._last_id()))
        self._emit(ToolStart(call_id, reply.name, item_id, run.id))
        self._emit(ToolDelta(call_id, arguments))
        self._emit(ToolCall(call_id, reply.name, arguments, item_id, run.id))
        self.conversation.append(
            item_id, ToolCallItem(item_id, call_id, reply.name, arguments, "completed")
        )
        self._calls[call_id] = reply
        return arguments

    def _usage(self, produced: str) -> Usage:
        history = sum(len(WORDS.findall(_words_of(item))) for item in self.conversation)
        output = len(WORDS.findall(produced))
        return Usage(
            input_tokens=history,
            output_tokens=output,
            total_tokens=history + output,
            input_text_tokens=history,
            output_text_tokens=output,
        )


def _vad_settings(turn: TurnDetection) -> VadSettings:
    """What the energy detector reads of the session's turn detection."""
    silence, padding = turn.silence_duration_ms, turn.prefix_padding_ms
    return VadSettings(
        silence_duration_ms=DEFAULT_SILENCE_MS if silence is None else silence,
        prefix_padding_ms=DEFAULT_PREFIX_PADDING_MS if padding is None else padding,
    )


def _words_of(item: Item) -> str:
    if isinstance(item, MessageItem):
        return item.text
    if isinstance(item, ToolCallItem):
        return item.arguments
    return item.output


def _encode(pcm16: bytes, fmt: AudioFormat) -> bytes:
    if fmt.encoding == "pcmu":
        return pcm16_to_ulaw(pcm16)
    if fmt.encoding == "pcma":
        return pcm16_to_alaw(pcm16)
    return pcm16
