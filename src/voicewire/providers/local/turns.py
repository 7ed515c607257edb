"""Turn taking for one local session: input audio, voice activity, the user's turns, their
transcripts, and speculation.

With server voice detection the VAD finds each turn (``speech.started`` ... ``speech.stopped``);
with manual turns the client commits the buffer (``input_audio_buffer.commit``, or
``activity.start`` / ``activity.end``). Each committed turn becomes a user item whose transcript
fills in when speech-to-text finishes.

Speculation: when the user goes quiet (``pause``, ~32 ms of silence) the utterance is transcribed
and a response generated at once, while the VAD still waits out the silence that ends the turn;
its events are held back until the turn ends, and dropped if the user resumes.

How a turn ends (:class:`TurnEnd`): ``server_vad`` waits out a fixed silence (``silence``);
``semantic_vad`` (the default when Smart Turn is installed) asks Smart Turn whether the words
sound finished, and ends the turn once they do, the transcript (speculation's) reads finished too,
and ~200 ms of silence (``quiet``) have passed (``semantic``); when only the transcript reads
finished, a longer silence ends it (``unsure``, ~1 s); otherwise it keeps listening, and the
eagerness's cap (1.5-2 s) ends it anyway (``cap``). Smart Turn judges the speech up to its end, so
it is asked at the first pause rather than at ``quiet``, and after whisper has transcribed the
turn, not beside it: on two cores the two slowed each other (whisper 0.07 s alone, 0.12 s beside
Smart Turn), and the answer waits for whisper, while the verdict only has to come by ``quiet``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ...audio import AudioConverter
from ...protocol import (
    AudioFormat,
    AudioInputCleared,
    AudioInputCommitted,
    AudioPart,
    ItemCreated,
    MessageItem,
    SessionConfig,
    SessionError,
    SpeechStarted,
    SpeechStopped,
    TranscriptInput,
    TurnDetection,
)
from .input_buffer import InputBuffer
from .options import DEFAULT_FORMAT, STT_FORMAT, new_id
from .responder import Responder, Response
from .session_state import SessionState
from .smart_turn import SAMPLE_RATE as SMART_TURN_RATE
from .smart_turn import (
    SemanticTiming,
    check_available,
    reads_finished,
    semantic_timing,
    shared_smart_turn,
    speech_only,
)
from .stt import Transcript
from .vad import SAMPLE_RATE, VadEvent, VoiceActivityDetector

log = logging.getLogger("voicewire.local")


def _ms(samples: int) -> int:
    return int(samples * 1000 / SAMPLE_RATE)


@dataclass
class Turn:
    """One user utterance found by the VAD, from ``speech.started`` to its end."""

    item_id: str
    start: int
    generation: int = 0
    """Bumped when speech resumes after a pause: work started at the pause is stale."""
    spec_generation: int = -1
    spec_end: int = 0
    spec_stt: asyncio.Task[Transcript] | None = None
    spec_response: Response | None = None
    judgements: list[float] = field(default_factory=list)
    """Smart Turn's judgements of the turn at each of its pauses (``semantic_vad``)."""
    judge_seconds: float | None = None
    """How long Smart Turn took to judge it (its worker thread, queueing included)."""
    quiet_generation: int = -1
    """The generation whose silence has lasted ``quiet`` long (the turn may end in it)."""
    complete_generation: int = -1
    """The generation Smart Turn and the transcript judged complete, ending at ``complete_end``."""
    complete_end: int = 0


EndReason = Literal["silence", "semantic", "unsure", "cap", "commit", "max_length"]


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """How a turn ended: ``silence`` (``server_vad``'s fixed silence), ``semantic`` (Smart Turn
    judged it complete and its transcript read finished), ``unsure`` (only the transcript read
    finished: a longer silence), ``cap`` (``semantic_vad``'s longest silence), ``commit`` (an
    ``input_audio_buffer.commit`` while speaking), ``max_length`` (too long an utterance)."""

    item_id: str
    reason: EndReason
    judgements: tuple[float, ...] = ()
    """Smart Turn's judgements (the probability that the turn was complete) at the pauses in
    the turn, the last at its end (``semantic_vad``; a judgement that came after the speech
    went on is not counted)."""

    @property
    def probability(self) -> float | None:
        """Smart Turn's last judgement of the turn, if any."""
        return self.judgements[-1] if self.judgements else None


class TurnTaker:
    """Finds the user's turns in the input audio, commits them as items, and asks the responder
    to answer them (speculatively from the first pause, when allowed)."""

    def __init__(
        self,
        state: SessionState,
        responder: Responder,
        transcripts: dict[str, asyncio.Task[str]],
    ) -> None:
        self._state = state
        self._responder = responder
        self._transcripts = transcripts
        """The transcripts in flight, by user item id (the responder waits for them)."""
        options = state.options
        self._input_format = DEFAULT_FORMAT
        self._in_converter = AudioConverter(self._input_format, STT_FORMAT)
        self._buffer = InputBuffer()
        self._vad = VoiceActivityDetector(
            state.engines.vad,
            threshold=options.threshold,
            silence_ms=options.silence_duration_ms,
            min_speech_ms=options.min_speech_ms,
            pause_ms=options.pause_ms,
            webrtc_gate=options.webrtc_gate,
        )
        self._vad_position_base = 0
        """Buffer position at which the VAD's own sample count restarted (after a reset)."""
        self._vad_lock = asyncio.Lock()
        """Held while the VAD works in a thread: a Smart Turn verdict waits for it."""
        self._turn: Turn | None = None
        self._manual_item: str | None = None
        self.ends: deque[TurnEnd] = deque(maxlen=64)
        """How the latest turns ended, oldest first (for tests and benchmarks)."""
        self._configure_vad(state.turn_detection())

    # -- what the connection asks ---------------------------------------------------------------

    def configure(self, old: SessionConfig, td: TurnDetection) -> None:
        """Apply a new session config (already in ``state.config``); ``old`` is the one before."""
        input_format: AudioFormat = self._state.config.input_audio_format or DEFAULT_FORMAT
        if input_format != self._input_format:
            self._input_format = input_format
            self._in_converter = AudioConverter(input_format, STT_FORMAT)
        self._configure_vad(td)
        old_mode = (old.turn_detection or TurnDetection()).mode
        if (old_mode == "manual") != (td.mode == "manual"):
            self._vad.reset()
            self._vad_position_base = self._buffer.end
            self._drop_turn()

    def _configure_vad(self, td: TurnDetection) -> None:
        options = self._state.options
        threshold = td.threshold if td.threshold is not None else options.threshold
        if td.mode == "semantic_vad":
            check_available(td)
            model = shared_smart_turn()
            if not model.loaded:
                self._state.spawn(asyncio.to_thread(model.load), "local-smart-turn-load")
            self._vad.configure(
                threshold=threshold,
                silence_ms=semantic_timing(td).cap_ms,
                check_ms=options.semantic_check_ms,
            )
            return
        silence_ms = td.silence_duration_ms
        self._vad.configure(
            threshold=threshold,
            silence_ms=silence_ms if silence_ms is not None else options.silence_duration_ms,
        )

    def clear(self) -> None:
        """``input_audio_buffer.clear``: forget the audio and the turn in progress."""
        self._buffer.clear()
        self._in_converter.reset()
        self._vad.reset()
        self._vad_position_base = self._buffer.end
        self._drop_turn()
        self._state.emit(AudioInputCleared())

    def activity_start(self) -> None:
        self._buffer.clear()
        item_id = new_id("item")
        self._manual_item = item_id
        self._state.emit(SpeechStarted(item_id, _ms(self._buffer.end)))
        self._responder.barge_in()

    def activity_end(self) -> None:
        committed = self._commit_buffer(self._manual_item)
        self._manual_item = None
        if committed and self._state.turn_detection().create_response:
            self._responder.start(None)

    def close(self) -> None:
        if self._turn is not None and self._turn.spec_response is not None:
            self._turn.spec_response.cancel.set()

    # -- input audio and turns -------------------------------------------------------------------

    def _server_vad(self) -> bool:
        return self._state.turn_detection().mode != "manual"

    async def on_audio(self, audio: bytes) -> None:
        pcm = self._in_converter.convert(audio)
        if not pcm:
            return
        samples = np.frombuffer(pcm, dtype=np.int16)
        self._buffer.append(samples)
        options = self._state.options
        if not self._server_vad():
            limit = int(options.max_utterance_s * 2 * SAMPLE_RATE)
            if self._buffer.end - self._buffer.start > limit:
                self._buffer.trim_before(self._buffer.end - limit)  # keep the latest minute
            return
        async with self._vad_lock:
            if samples.size > 16 * 512:
                events = await asyncio.to_thread(self._vad.feed, samples)
            else:
                events = self._vad.feed(samples)
            for event in events:
                self._on_vad(replace(event, sample=event.sample + self._vad_position_base))
            turn = self._turn
            if turn is None:
                keep = int((self._prefix_ms() + 500) * SAMPLE_RATE / 1000)
                self._buffer.trim_before(self._buffer.end - keep)
            elif self._buffer.end - turn.start > options.max_utterance_s * SAMPLE_RATE:
                self._force_end(turn, "max_length")

    def _force_end(self, turn: Turn, reason: EndReason) -> bool:
        forced = self._vad.force_end()
        if forced is None:
            return False
        self._end_turn(turn, forced.sample + self._vad_position_base, reason)
        return True

    def _prefix_ms(self) -> int:
        td = self._state.turn_detection()
        if td.prefix_padding_ms is not None:
            return td.prefix_padding_ms
        return self._state.options.prefix_padding_ms

    def _on_vad(self, event: VadEvent) -> None:
        turn = self._turn
        if event.kind == "start":
            self._turn = Turn(new_id("item"), event.sample)
            self._state.timings["speech_started"] = self._state.loop.time()
            self._state.emit(SpeechStarted(self._turn.item_id, _ms(event.sample)))
            if self._state.turn_detection().interrupt_response:
                self._responder.barge_in()
        elif turn is None:
            return
        elif event.kind == "pause":
            if self._state.options.speculate:
                self._speculate(turn, event.sample)
            self._judge(turn, event.sample)
        elif event.kind == "quiet":
            turn.quiet_generation = turn.generation
            self._end_if_complete(turn)
        elif event.kind == "resume":
            turn.generation += 1
            self._drop_speculation(turn)
        elif event.kind == "end":
            reason: EndReason = "silence"
            if self._state.turn_detection().mode == "semantic_vad":
                reason = "unsure" if event.shortened else "cap"
            self._end_turn(turn, event.sample, reason)

    def _segment(self, start: int, end: int) -> NDArray[np.float32]:
        begin = start - int(self._prefix_ms() * SAMPLE_RATE / 1000)
        pad = int(self._state.options.trailing_pad_ms * SAMPLE_RATE / 1000)
        audio = self._buffer.slice(begin, end + pad).astype(np.float32) / 32768.0
        missing = (end + pad) - min(end + pad, self._buffer.end)
        if missing > 0:
            audio = np.concatenate([audio, np.zeros(missing, dtype=np.float32)])
        return audio

    def _transcribe(self, audio: NDArray[np.float32]) -> asyncio.Task[Transcript]:
        stt = self._state.engines.stt
        return self._state.spawn(asyncio.to_thread(stt.transcribe, audio), "local-stt")

    # -- semantic end of turn --------------------------------------------------------------------

    def _judge(self, turn: Turn, end: int) -> None:
        """``pause``: ask Smart Turn (in a worker thread) whether the turn sounds complete, on
        the utterance up to its last sound (see :func:`.smart_turn.speech_only`), and whether
        its transcript reads finished (:func:`.smart_turn.reads_finished`)."""
        td = self._state.turn_detection()
        if td.mode != "semantic_vad":
            return
        stop = min(end + SAMPLE_RATE // 5, self._buffer.end)  # silero may end a sound early
        begin = max(turn.start - SAMPLE_RATE // 2, stop - 8 * SMART_TURN_RATE)
        audio = speech_only(self._buffer.slice(begin, stop).astype(np.float32) / 32768.0)
        timing = semantic_timing(td)
        stt = self._transcript_until(turn, end)
        self._state.spawn(
            self._verdict(turn, turn.generation, end, audio, timing, stt), "local-smart-turn"
        )

    def _transcript_until(self, turn: Turn, end: int) -> asyncio.Task[Transcript]:
        """The transcript of the turn up to ``end``: speculation's, or one started now (which
        the end of the turn then takes, as it would speculation's)."""
        fresh = turn.spec_generation == turn.generation and turn.spec_end == end
        if fresh and turn.spec_stt is not None:
            return turn.spec_stt
        self._drop_speculation(turn)
        turn.spec_generation, turn.spec_end = turn.generation, end
        turn.spec_stt = self._transcribe(self._segment(turn.start, end))
        return turn.spec_stt

    async def _verdict(
        self,
        turn: Turn,
        generation: int,
        end: int,
        audio: NDArray[np.float32],
        timing: SemanticTiming,
        stt: asyncio.Task[Transcript],
    ) -> None:
        asked = self._state.loop.time()
        try:
            finished = reads_finished((await asyncio.shield(stt)).text)
        except Exception:
            finished = True  # no transcript to read: the sound decides (the failure is told)
        if self._turn is not turn or turn.generation != generation:
            return  # the user went on speaking (or the turn ended): spare the CPU
        probability = await asyncio.to_thread(shared_smart_turn().probability, audio)
        async with self._vad_lock:
            if self._turn is not turn or turn.generation != generation:
                return  # the user went on speaking, or the turn ended otherwise
            turn.judgements.append(probability)
            turn.judge_seconds = self._state.loop.time() - asked
            log.debug(
                "smart turn: p(complete) %.2f (threshold %.2f), transcript %s",
                probability,
                timing.threshold,
                "finished" if finished else "unfinished",
            )
            if probability >= timing.threshold and finished:
                turn.complete_generation, turn.complete_end = generation, end
                self._end_if_complete(turn)
            elif finished:  # the words read finished, the sound not: wait, but less long
                self._vad.end_silence_after(timing.unsure_ms)

    def _end_if_complete(self, turn: Turn) -> None:
        """End the turn if it was judged complete and its silence has lasted ``quiet`` long."""
        judged = turn.complete_generation == turn.quiet_generation == turn.generation
        if judged and self._vad.force_end() is not None:
            self._end_turn(turn, turn.complete_end, "semantic")

    # -- speculation -----------------------------------------------------------------------------

    def _speculate(self, turn: Turn, end: int) -> None:
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
            if not self._state.connected():
                return
            text = done.result().text
            if not text or not self._state.turn_detection().create_response:
                return
            if self._responder.busy or self._transcripts_pending():
                return  # something else is going on: answer after the turn ends
            turn.spec_response = self._responder.speculate(text)

        task.add_done_callback(transcribed)

    def _drop_speculation(self, turn: Turn) -> None:
        response = turn.spec_response
        turn.spec_response = None
        if response is not None:
            self._responder.drop(response)

    def _drop_turn(self) -> None:
        if self._turn is not None:
            self._drop_speculation(self._turn)
        self._turn = None

    def _transcripts_pending(self) -> bool:
        return any(not t.done() for t in self._transcripts.values())

    # -- committing turns ------------------------------------------------------------------------

    def _end_turn(self, turn: Turn, end: int, reason: EndReason) -> None:
        self._turn = None
        self.ends.append(TurnEnd(turn.item_id, reason, tuple(turn.judgements)))
        timings = self._state.timings
        timings.clear()
        timings["turn_end"] = self._state.loop.time()
        if turn.judge_seconds is not None:
            timings["smart_turn_seconds"] = turn.judge_seconds
        self._state.emit(SpeechStopped(turn.item_id, _ms(end)))
        fresh = turn.spec_stt is not None and turn.spec_generation == turn.generation
        if fresh and turn.spec_end == end and turn.spec_stt is not None:
            stt = turn.spec_stt
        else:
            self._drop_speculation(turn)
            stt = self._transcribe(self._segment(turn.start, end))
        self._commit_item(turn.item_id, stt)
        keep_from = end + int(self._state.options.trailing_pad_ms * SAMPLE_RATE / 1000)
        self._buffer.trim_before(min(keep_from, self._buffer.end))
        if not self._state.turn_detection().create_response:
            self._drop_speculation(turn)
            return
        if not (fresh and turn.spec_end == end):
            self._drop_speculation(turn)
        response = turn.spec_response
        turn.spec_response = None
        self._responder.take_speculation(response, turn.item_id)

    def _commit_item(self, item_id: str, stt: asyncio.Task[Transcript]) -> None:
        conversation = self._state.conversation
        self._state.emit(AudioInputCommitted(item_id, conversation.last_id()))
        item = MessageItem(item_id, "user", (AudioPart(),), "completed")
        previous = conversation.add(item)
        self._state.emit(ItemCreated(item, previous))
        self._transcripts[item_id] = self._state.spawn(
            self._finish_transcript(item_id, stt), f"local-transcript-{item_id}"
        )

    async def _finish_transcript(self, item_id: str, stt: asyncio.Task[Transcript]) -> str:
        timings = self._state.timings
        try:
            transcript = await stt
            text = transcript.text
            timings["stt_seconds"] = transcript.seconds
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("speech-to-text failed")
            self._state.emit(SessionError("transcription_failed", f"speech-to-text failed: {exc}"))
            text = ""
        timings["transcribed"] = self._state.loop.time()
        if item_id in self._state.conversation:
            self._state.conversation.set_text(item_id, text)
        self._state.emit(TranscriptInput(item_id, text))
        self._transcripts.pop(item_id, None)
        return text

    def on_commit(self) -> None:
        """``input_audio_buffer.commit``: end the turn now (server VAD) or commit the buffer."""
        if self._server_vad():
            turn = self._turn
            if turn is not None and self._force_end(turn, "commit"):
                return
            self._vad.force_end()
            self._state.emit(
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
            self._state.emit(
                SessionError(
                    "input_audio_buffer_commit_empty",
                    f"the input audio buffer holds {_ms(end - start)} ms of audio; "
                    "at least 100 ms are needed to commit",
                )
            )
            return False
        audio = self._buffer.slice(start, end).astype(np.float32) / 32768.0
        pad = np.zeros(int(self._state.options.trailing_pad_ms * SAMPLE_RATE / 1000), np.float32)
        self._state.timings["turn_end"] = self._state.loop.time()
        stt = self._transcribe(np.concatenate([audio, pad]))
        self._commit_item(item_id or new_id("item"), stt)
        self._buffer.clear()
        return True
