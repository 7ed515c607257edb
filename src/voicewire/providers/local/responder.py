"""The responder: runs the language model and speech synthesis for each response, clause by
clause, and cancels them.

Responses run one after the other (each waits for the one before it and for the transcripts in
flight). Cancelling one (barge-in, ``response.cancel``, close) stops its LLM at the next token and
drops its pending speech. A speculative response (started by the turn taker before the turn
ended) holds its events and its history changes until it is adopted, or is dropped unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from ...audio import AudioConverter, bytes_to_ms, ms_to_bytes
from ...protocol import (
    AudioFormat,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ItemCreated,
    MessageItem,
    Modality,
    RealtimeError,
    ResponseConfig,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ResponseStatus,
    ServerEvent,
    SessionError,
    TextOutput,
    TextOutputDelta,
    TextPart,
    ToolCall,
    ToolCallItem,
    ToolStart,
    TranscriptOutput,
    TranscriptOutputDelta,
    Usage,
)
from .llm import ChatMessage, LLMRequest, LLMUsage, TextDelta, ToolCallRequest
from .options import new_id
from .session_state import SessionState
from .text import ClauseSplitter, speakable

log = logging.getLogger("voicewire.local")

_END = object()


class Response:
    """One response: its LLM run, what it has said so far, and whether the client sees it yet."""

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


class Responder:
    """Starts, speculates, adopts and cancels the responses of one local session."""

    def __init__(self, state: SessionState, transcripts: Mapping[str, asyncio.Task[str]]) -> None:
        self._state = state
        self._transcripts = transcripts
        """The user transcripts in flight (by item id): a response waits for them."""
        self._responses: list[Response] = []
        """Responses created and not finished, oldest first (at most one emits at a time)."""
        self._tail: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """A response was created and has not finished."""
        return bool(self._responses)

    # -- starting, adopting, cancelling ---------------------------------------------------------

    def start(self, config: ResponseConfig | None) -> None:
        response = Response(new_id("resp"), config, visible=True)
        self._responses.append(response)
        previous = self._tail
        response.task = self._state.spawn(self._queued_response(response, previous), response.id)
        self._tail = response.task

    def speculate(self, text: str) -> Response:
        """Answer ``text``, a transcript of a turn not over yet, holding every event back."""
        state = self._state
        response = Response(new_id("resp"), None, visible=False)
        response.user_text = text
        response.history_version = state.conversation.version
        history = state.conversation.chat(state.options.history_items)
        messages = [*history, ChatMessage("user", text)]
        response.task = state.spawn(
            self._run_response(response, messages), f"local-spec-{response.id}"
        )
        return response

    def take_speculation(self, response: Response | None, item_id: str) -> None:
        """The turn ``item_id`` ended: keep ``response`` if it answers exactly this turn."""
        if response is None:
            self.start(None)
            return
        if response.history_version != self._state.conversation.version - 1 or self._responses:
            self.drop(response)
            self.start(None)
            return
        self._responses.append(response)
        self._tail = response.task
        self._state.spawn(self._adopt(response, item_id), "local-adopt")

    async def _adopt(self, response: Response, item_id: str) -> None:
        transcript = self._transcripts.get(item_id)
        if transcript is not None:
            await asyncio.gather(transcript, return_exceptions=True)
        item = self._state.conversation.get(item_id)
        text = item.text if isinstance(item, MessageItem) else None
        if response.cancelled:
            return  # barge-in or close meanwhile
        if text != response.user_text:
            self.cancel(response, interrupted=False, reason="stale")
            self.start(None)
            return
        response.visible = True
        held, response.held = response.held, []
        for event in held:
            self._state.emit(event)
        ops, response.held_ops = response.held_ops, []
        for op in ops:
            op()
        self._state.timings.update(response.marks)
        if response.finished and response in self._responses:
            self._responses.remove(response)

    def drop(self, response: Response) -> None:
        """Forget ``response`` without a word to the client (a speculation that missed)."""
        response.cancel.set()
        response.cancelled = response.finished = True
        if response in self._responses:
            self._responses.remove(response)
        if response.task is not None:
            response.task.cancel()

    def barge_in(self) -> None:
        for response in list(self._responses):
            self.cancel(response, interrupted=True, reason="turn_detected")

    def cancel_matching(self, response_id: str | None) -> None:
        """``response.cancel``: the response ``response_id``, or every one."""
        for response in list(self._responses):
            if response_id in (None, response.id):
                self.cancel(response, interrupted=False, reason="client_cancelled")

    def cancel(self, response: Response, *, interrupted: bool, reason: str) -> None:
        """Stop ``response`` now: its LLM stops at the next token, nothing more is emitted."""
        if response.cancelled or (response.finished and response.visible):
            return
        response.cancel.set()
        if response.started and response.visible:
            if interrupted:
                self._state.emit(
                    ResponseInterrupted(response.id, response.item_id, int(response.audio_ms))
                )
            self._close_message(response, completed=False)
            self._state.emit(ResponseDone(response.id, "cancelled", _usage(response.usage), reason))
        response.cancelled = True
        response.finished = True
        if response in self._responses:
            self._responses.remove(response)
        if response.task is not None:
            response.task.cancel()

    def close(self) -> list[asyncio.Task[None]]:
        """Stop every response at once (the connection closes); returns their tasks."""
        for response in list(self._responses):
            response.cancel.set()
            response.finished = True
            if response.task is not None:
                response.task.cancel()
        return [r.task for r in self._responses if r.task is not None]

    # -- one response ---------------------------------------------------------------------------

    async def _queued_response(
        self, response: Response, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None and not previous.done():
            with contextlib.suppress(BaseException):
                await asyncio.shield(previous)
        pending = list(self._transcripts.values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if response.finished:
            return
        conversation = self._state.conversation
        if not conversation.has_new_content():
            # Nothing was said (silence or noise transcribed to nothing): no response.
            response.cancelled = response.finished = True
            if response in self._responses:
                self._responses.remove(response)
            return
        await self._run_response(response, conversation.chat(self._state.options.history_items))

    def _emit_for(self, response: Response, event: ServerEvent) -> None:
        if response.cancelled:
            return
        if isinstance(event, ResponseCreated):
            response.started = True
        if response.visible:
            self._state.emit(event)
        else:
            response.held.append(event)

    def _mark(self, response: Response, name: str) -> None:
        if name in response.marks:
            return
        response.marks[name] = self._state.loop.time()
        if response.visible:
            self._state.timings[name] = response.marks[name]

    def _record(self, response: Response, op: Callable[[], None]) -> None:
        """Change the history for ``response`` now, or when a speculative one is adopted."""
        if response.cancelled and not response.visible:
            return
        if response.visible:
            op()
        else:
            response.held_ops.append(op)

    def _request(self, response: Response, messages: Sequence[ChatMessage]) -> LLMRequest:
        session = self._state.config
        options = self._state.options
        config = response.config
        tools = config.tools if config is not None and config.tools is not None else None
        choice = config.tool_choice if config is not None and config.tool_choice else None
        max_tokens = config.max_output_tokens if config is not None else None
        return LLMRequest(
            self._state.instructions(config),
            messages,
            tuple(tools if tools is not None else session.tools),
            choice or session.tool_choice or "auto",
            max_tokens or session.max_output_tokens or options.max_output_tokens,
            options.temperature,
        )

    def _modalities(self, config: ResponseConfig | None) -> Sequence[Modality]:
        if config is not None and config.modalities is not None:
            return config.modalities
        return self._state.config.modalities or ("audio",)

    async def _run_response(self, response: Response, messages: Sequence[ChatMessage]) -> None:
        request = self._request(response, messages)
        response.audio = "audio" in self._modalities(response.config)
        queue: asyncio.Queue[object] = asyncio.Queue()
        loop = self._state.loop
        llm = self._state.engines.llm

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
            first_min_words=self._state.options.first_clause_words,
            first_max_words=self._state.options.first_clause_max_words,
        )
        tts_format = AudioFormat.pcm16(self._state.engines.tts.sample_rate)
        converter = AudioConverter(tts_format, self._state.output_format)
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

    def _fail(self, response: Response, code: str, message: str) -> None:
        if response.cancelled:
            return
        self._emit_for(response, SessionError(code, message))
        self._close_message(response, completed=False)
        self._finish(response, "failed", message)

    def _finish(
        self, response: Response, status: ResponseStatus, reason: str | None = None
    ) -> None:
        self._emit_for(response, ResponseDone(response.id, status, _usage(response.usage), reason))
        response.finished = True
        if response.visible and response in self._responses:
            self._responses.remove(response)

    def _open_message(self, response: Response) -> None:
        if response.item_id is not None:
            return
        response.item_id = new_id("item")
        item = MessageItem(
            response.item_id,
            "assistant",
            (AudioPart(),) if response.audio else (TextPart(""),),
            "in_progress",
        )
        previous = self._state.conversation.last_id() if response.visible else None
        self._emit_for(response, ItemCreated(item, previous))

    def _close_message(self, response: Response, *, completed: bool) -> None:
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
        conversation = self._state.conversation
        self._record(response, lambda: conversation.put_assistant(item, spoken))

    def _emit_call(self, response: Response, call: ToolCallRequest) -> None:
        call_id = call.call_id or new_id("call")
        item_id = new_id("item")
        item = ToolCallItem(item_id, call_id, call.name, call.arguments, "completed")
        conversation = self._state.conversation
        previous = conversation.last_id() if response.visible else None
        self._emit_for(response, ItemCreated(item, previous))
        self._record(response, lambda: conversation.append(item))
        self._emit_for(response, ToolStart(call_id, call.name, item_id, response.id))
        self._emit_for(response, ToolCall(call_id, call.name, call.arguments, item_id, response.id))

    async def _speak(self, response: Response, clause: str, converter: AudioConverter) -> None:
        """Synthesize one clause and send it: its transcript delta, then its audio."""
        self._mark(response, "first_clause")
        text = speakable(clause)
        voice = self._state.config.voice
        speed = (voice.speed if voice else None) or 1.0
        samples = None
        if text:
            response.tts_idle.clear()
            try:
                tts = self._state.engines.tts
                samples = await asyncio.to_thread(tts.synthesize, text, speed)
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

    def _emit_audio(self, response: Response, audio: bytes) -> None:
        output_format = self._state.output_format
        chunk = max(ms_to_bytes(self._state.options.output_chunk_ms, output_format), 2)
        for offset in range(0, len(audio), chunk):
            piece = audio[offset : offset + chunk]
            delta = AudioOutputDelta.from_bytes(response.id, response.item_id, piece)
            self._emit_for(response, delta)
            response.audio_ms += bytes_to_ms(len(piece), output_format)


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
