"""Turn taking for one local session: input audio, voice activity, the user's turns, their
transcripts, and speculation.

With server voice detection the VAD finds each turn (``speech.started`` ... ``speech.stopped``);
with manual turns the client commits the buffer (``input_audio_buffer.commit``, or
``activity.start`` / ``activity.end``). Each committed turn becomes a user item whose transcript
fills in when speech-to-text finishes.

Speculation: when the user goes quiet (``pause``, ~64 ms of silence) the utterance is transcribed
and a response generated at once, while the VAD still waits out the silence that ends the turn;
its events are held back until the turn ends, and dropped if the user resumes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

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
        self._turn: Turn | None = None
        self._manual_item: str | None = None

    # -- what the connection asks ---------------------------------------------------------------

    def configure(self, old: SessionConfig, td: TurnDetection) -> None:
        """Apply a new session config (already in ``state.config``); ``old`` is the one before."""
        input_format: AudioFormat = self._state.config.input_audio_format or DEFAULT_FORMAT
        if input_format != self._input_format:
            self._input_format = input_format
            self._in_converter = AudioConverter(input_format, STT_FORMAT)
        options = self._state.options
        self._vad.configure(
            threshold=td.threshold if td.threshold is not None else options.threshold,
            silence_ms=(
                td.silence_duration_ms
                if td.silence_duration_ms is not None
                else options.silence_duration_ms
            ),
        )
        old_mode = (old.turn_detection or TurnDetection()).mode
        if (old_mode == "manual") != (td.mode == "manual"):
            self._vad.reset()
            self._vad_position_base = self._buffer.end
            self._drop_turn()

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
        elif self._buffer.end - turn.start > options.max_utterance_s * SAMPLE_RATE:
            forced = self._vad.force_end()
            if forced is not None:
                self._end_turn(turn, forced.sample + self._vad_position_base)

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
        elif event.kind == "resume":
            turn.generation += 1
            self._drop_speculation(turn)
        elif event.kind == "end":
            self._end_turn(turn, event.sample)

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

    def _end_turn(self, turn: Turn, end: int) -> None:
        self._turn = None
        timings = self._state.timings
        timings.clear()
        timings["turn_end"] = self._state.loop.time()
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
            forced = self._vad.force_end()
            if turn is not None and forced is not None:
                self._end_turn(turn, forced.sample + self._vad_position_base)
                return
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
