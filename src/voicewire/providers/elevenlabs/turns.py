"""The turns of an ElevenLabs conversation, as the neutral events a session expects.

ElevenLabs names no items and no responses, and never says when the agent's turn is over: it
streams ``audio`` and ``agent_response`` stamped with an ``event_id`` (a turn counter: the reply to
the user's turn *n* and an interruption during it carry *n*), reports the user's words as
``tentative_user_transcript`` / ``user_transcript``, and cuts the agent off with ``interruption``.
:class:`Turns` synthesizes what the OpenAI wire states outright, so that the session's history,
playback, tools and ledger work unchanged:

* ids: ``item_<tag>_<n>`` and ``resp_<tag>_<n>``, with a random tag per connection (a session that
  reconnects holds items of several connections in one history, so ids must never repeat);
* a *response* opens (``response.created``) at the agent's first output of a turn (audio, text,
  or a client tool call) and ends (``response.done``) at the first of: agent output of a newer
  ``event_id`` (the next turn began), the user's final transcript (the user took the turn), an
  ``interruption`` (``cancelled``), quiet while no client tool call waits for its result
  (ElevenLabs says nothing when the agent has finished, and apps wait for ``response.done``; the
  connection calls :meth:`Turns.idle`), or the end of the connection (the session reports that
  one). Quiet means :data:`END_AFTER_S` without agent output, :data:`END_AFTER_TOOL_S` after a
  tool result (the agent's LLM runs again before it speaks on), and never before the audio
  received so far would have been played out from its first chunk (audio comes faster than it
  plays, so a pause in its arrival while the listener still hears the answer is the TTS or LLM
  catching up, not the end). Output after a quiet end opens a new response;
* an assistant *item* (``item.created``) per generation of the agent: a second
  ``agent_response`` in one turn (after a tool call, say) opens a new item. Its audio ends with
  ``audio.output.done``; ``agent_response`` carries the complete text as the agent starts
  speaking, so it becomes ``transcript.output`` at once (after a ``transcript.output.delta``
  with the same text when no ``agent_chat_response_part`` streamed it). When the agent's audio
  is converted (its rate is not the app's) the resampler holds its last few milliseconds until
  more comes; :meth:`Turns.idle` lets them out after :data:`RELEASE_AFTER_S` of quiet, so the
  end of an answer is heard before the user speaks again;
* a *user item* opens at the first sign of the user's turn (a tentative transcript, or the
  ``speech.started`` of an interruption) and is committed (``audio.input.committed``, which
  acknowledges the audio sent so far) and transcribed (``transcript.input``) by the final one.
  Tentative transcripts are cumulative; the increment becomes ``transcript.input.delta``, and a
  rewrite of earlier words stops the deltas (the final transcript has them all);
* ``interruption``: ``speech.started``, one ``response.interrupted`` (how much of the item's
  audio had been sent) and ``response.done`` ``cancelled``. It is the only ``speech.started``:
  a session takes that event as a barge-in and stops playback, and only the agent knows whether
  the user's voice interrupts it (interruptions may be off, or off during a tool call), so
  ``vad_score`` and tentative transcripts start none. Audio and text whose ``event_id`` is
  strictly older than the interruption's are dropped (a late ``agent_response`` of the cut-off
  answer would otherwise open a response and an item nobody heard); audio *with* the
  interruption's id is the reply to the interrupting words and is kept (ElevenLabs' Python SDK
  drops it with ``<=``);
* ``agent_response_correction`` (the server cut its record of an interrupted answer to what was
  heard): ``transcript.output`` again, with the corrected words, which the session's history
  takes in place of the full text;
* typed text: ElevenLabs may report a typed ``user_message`` back as a ``user_transcript``; a
  final transcript that no tentative one announced and that repeats a message typed less than
  :data:`ECHO_WITHIN_S` ago is taken as that echo (the message already has its item) and
  creates no second item. An echo comes at once or not at all, so the same words *spoken*
  later are the user's turn, whatever was typed before.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ...protocol import (
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ContentPart,
    ItemCreated,
    MessageItem,
    ProtocolError,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ResponseStatus,
    ServerEvent,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    ToolCall,
    ToolCallItem,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    TranscriptOutputDelta,
    Usage,
)
from ...protocol.base64_audio import b64decode_strict
from .audio_formats import FormatBridge

__all__ = ["ECHO_WITHIN_S", "END_AFTER_S", "END_AFTER_TOOL_S", "RELEASE_AFTER_S", "Turns"]

RELEASE_AFTER_S: Final = 0.15
"""Quiet after the agent's last output when the end of its converted audio, held in the
resampler, is let out. Audio arrives faster than it plays, so a pause this long is (nearly
always) the end of what the agent says; if it speaks on, its audio resumes from a fresh
resampler."""
END_AFTER_S: Final = 1.0
"""Quiet after the agent's last output when its response is taken as done (unless a client tool
call is waiting for its result): ElevenLabs never says the agent has finished."""
END_AFTER_TOOL_S: Final = 5.0
"""The same after a client tool result: the agent's LLM reads it and answers, which takes longer
than a pause between the sentences of an answer."""

ECHO_WITHIN_S: Final = 5.0
"""How long after a typed message a final transcript of the same words is taken as its echo."""

_KEPT_ITEMS: Final = 16
"""Assistant items remembered for corrections (a correction concerns the latest few)."""
_KEPT_TYPED: Final = 8
"""Typed messages remembered to recognise their echo."""


@dataclass(slots=True)
class _Item:
    """One assistant item being spoken."""

    id: str
    audio_bytes: int = 0
    """Audio sent for it, in the app's output format."""
    text: str | None = None
    """The complete text from ``agent_response``."""
    streamed: list[str] = field(default_factory=list)
    """Text from ``agent_chat_response_part`` deltas."""


@dataclass(slots=True)
class _Response:
    id: str
    event_id: int
    item: _Item | None = None
    audio_from: float | None = None
    """When its first audio came (the clock's time)."""
    audio_s: float = 0.0
    """Seconds of audio it has sent."""


@dataclass(slots=True)
class _UserTurn:
    id: str
    announced: bool = False
    """``item.created`` went out."""
    started: bool = False
    """``speech.started`` went out (an interruption)."""
    partial: str | None = ""
    """The last tentative transcript; ``None`` once one rewrote earlier words."""


class Turns:
    """The synthesized conversation of one connection (see the module docstring)."""

    def __init__(
        self,
        bridge: FormatBridge,
        *,
        text_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: seconds, for the quiet that ends the agent's turn (see :meth:`idle`)."""
        self.bridge = bridge
        self._clock = clock
        self._last_output = clock()
        self._quiet_s = END_AFTER_S  # the quiet that ends the response now
        self._calls: set[str] = set()
        self.text_only = text_only
        self._tag = secrets.token_hex(3)
        self._count = 0
        self._response: _Response | None = None
        self._user: _UserTurn | None = None
        self._last_item: str | None = None
        self.last_interruption: int | None = None
        self._usage: Usage | None = None
        self._spoken: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._typed: deque[tuple[str, float]] = deque(maxlen=_KEPT_TYPED)  # text, when
        self.holds_audio = False
        """The output resampler may hold the end of the agent's audio (see :meth:`release`)."""

    def new_id(self, kind: str) -> str:
        self._count += 1
        return f"{kind}_{self._tag}_{self._count}"

    # -- what the client wrote -------------------------------------------------------------------

    def follows(self, item_id: str) -> str | None:
        """``item_id`` joins the conversation now: the id it follows."""
        previous, self._last_item = self._last_item, item_id
        return previous

    def typed(self, text: str) -> None:
        """A ``user_message`` went out (its echo, if any, makes no new item)."""
        self._typed.append((text, self._clock()))

    # -- the agent ---------------------------------------------------------------------------------

    def stale(self, event_id: int) -> bool:
        """Output of a turn strictly older than the last interruption: the agent was cut off
        there, so it is never heard nor recorded (the interrupting turn's own id is kept)."""
        return self.last_interruption is not None and event_id < self.last_interruption

    def audio(self, event_id: int, audio_b64: str) -> list[ServerEvent]:
        if self.stale(event_id):
            return []  # said before the user cut in: the listener must not hear it
        events = self._output(event_id)
        response, item = self._current_item(events)
        if response.audio_from is None:
            response.audio_from = self._last_output
        if self.bridge.output_passthrough:
            size = _decoded_length(audio_b64)
            item.audio_bytes += size
            response.audio_s += size / self.bridge.app_output.bytes_per_second
            events.append(AudioOutputDelta(response.id, item.id, audio_b64))
            return events
        try:
            wire = b64decode_strict(audio_b64)
        except ValueError as exc:
            raise ProtocolError(
                f"malformed 'audio' server event: field 'audio_event.audio_base_64' is not "
                f"valid base64 ({exc})"
            ) from None
        audio = self.bridge.from_wire(wire)
        self.holds_audio = True
        if audio:  # the resampler may hold a short chunk back whole
            item.audio_bytes += len(audio)
            response.audio_s += len(audio) / self.bridge.app_output.bytes_per_second
            events.append(AudioOutputDelta.from_bytes(response.id, item.id, audio))
        return events

    def agent_text(self, event_id: int, text: str) -> list[ServerEvent]:
        """``agent_response``: the complete text of one generation."""
        if self.stale(event_id):
            return []  # an answer cut off: its words were never said (no phantom item)
        events = self._output(event_id)
        response = self._response
        assert response is not None
        if response.item is not None and response.item.text is not None:
            events += self._finish_item(response)  # a second generation in the turn
        response, item = self._current_item(events)
        item.text = text
        if not item.streamed:
            delta = TextOutputDelta if self.text_only else TranscriptOutputDelta
            events.append(delta(response.id, item.id, text))
        done = TextOutput if self.text_only else TranscriptOutput
        events.append(done(response.id, item.id, text))
        self._remember(item.id, response.id, text)
        return events

    def text_part(self, event_id: int, kind: str, text: str) -> list[ServerEvent]:
        """``agent_chat_response_part``: ``start``, ``delta`` or ``stop`` of streamed text."""
        if self.stale(event_id):
            return []
        events = self._output(event_id)
        response = self._response
        assert response is not None
        if kind == "start" and response.item is not None and response.item.text is not None:
            events += self._finish_item(response)
        if kind != "delta" or not text:
            return events
        response, item = self._current_item(events)
        item.streamed.append(text)
        if item.text is not None:
            return events  # agent_response told the whole text already: no delta after its done
        delta = TextOutputDelta if self.text_only else TranscriptOutputDelta
        events.append(delta(response.id, item.id, text))
        return events

    def tool_call(
        self, event_id: int, call_id: str, name: str, parameters: dict[str, Any]
    ) -> list[ServerEvent]:
        events = self._output(event_id)
        response = self._response
        assert response is not None
        events += self._finish_item(response)  # what follows the result is a new item
        self._calls.add(call_id)
        arguments = json.dumps(parameters, separators=(",", ":"))
        item_id = self.new_id("item")
        item = ToolCallItem(item_id, call_id, name, arguments, "completed")
        events.append(ItemCreated(item, self.follows(item_id)))
        events.append(ToolCall(call_id, name, arguments, item_id, response.id))
        return events

    def correction(self, original: str, corrected: str) -> list[ServerEvent]:
        """The server cut its record of an answer to what was heard."""
        match = next(
            (i for i, (_, text) in reversed(self._spoken.items()) if text == original), None
        )
        if match is None and self._spoken:
            match = next(reversed(self._spoken))
        if match is None:
            return []
        response_id, _ = self._spoken[match]
        self._spoken[match] = (response_id, corrected)
        done = TextOutput if self.text_only else TranscriptOutput
        return [done(response_id, match, corrected)]

    def interruption(self, event_id: int) -> list[ServerEvent]:
        if self.last_interruption is None or event_id > self.last_interruption:
            self.last_interruption = event_id
        user = self._user_turn()
        user.started = True
        events: list[ServerEvent] = [SpeechStarted(user.id)]
        response = self._response
        if response is None:
            return events
        item = response.item
        heard = None if item is None or not item.audio_bytes else item
        ms = heard.audio_bytes * 1000 // self.bridge.app_output.bytes_per_second if heard else None
        events.append(ResponseInterrupted(response.id, heard.id if heard else None, ms))
        self.bridge.drop_output()
        self.holds_audio = False
        events += self._end_response("cancelled", "interrupted", flush=False)
        return events

    def tool_answered(self, call_id: str) -> None:
        """A ``client_tool_result`` went out: the agent goes on (and the quiet counts anew)."""
        self._calls.discard(call_id)
        self._last_output = self._clock()
        self._quiet_s = END_AFTER_TOOL_S

    def idle_after(self) -> float | None:
        """Seconds of quiet from now after which :meth:`idle` has something to do, or ``None``
        while nothing waits on quiet."""
        now = self._clock()
        if self.holds_audio:
            return max(0.0, RELEASE_AFTER_S - (now - self._last_output))
        if self._response is None or self._calls:
            return None
        return max(0.0, self._ends_at() - now)

    def idle(self) -> list[ServerEvent]:
        """The agent has been quiet: let out the audio the resampler holds and, once quiet long
        enough (see the module), end its response (the next output opens a new one)."""
        now = self._clock()
        events = self.release() if now - self._last_output >= RELEASE_AFTER_S else []
        if self._response is not None and not self._calls and now >= self._ends_at():
            events += self.end()
        return events

    def _ends_at(self) -> float:
        """When the open response is over if the agent stays quiet."""
        ends = self._last_output + self._quiet_s
        response = self._response
        if response is not None and response.audio_from is not None:
            ends = max(ends, response.audio_from + response.audio_s)
        return ends

    def release(self) -> list[ServerEvent]:
        """The agent's audio paused: let out what the output resampler holds (the end of what
        it said, which would otherwise wait for the next turn)."""
        response = self._response
        if not self.holds_audio or response is None or response.item is None:
            self.holds_audio = False
            return []
        self.holds_audio = False
        tail = self.bridge.end_output()
        if not tail:
            return []
        response.item.audio_bytes += len(tail)
        return [AudioOutputDelta.from_bytes(response.id, response.item.id, tail)]

    def context_usage(self, context_tokens: int) -> None:
        """The prompt size of the agent's last generation: the input tokens of its response."""
        self._usage = Usage(input_tokens=context_tokens, total_tokens=context_tokens)

    def end(self) -> list[ServerEvent]:
        """The agent's turn is over (the user took it): close the open response, if any."""
        return self._end_response("completed", None, flush=True)

    # -- the user ---------------------------------------------------------------------------------

    def user_tentative(self, text: str) -> list[ServerEvent]:
        events: list[ServerEvent] = []
        user = self._announce_user(events)
        previous = user.partial
        if previous is None:
            return events
        if not text.startswith(previous):
            user.partial = None  # words rewritten: the final transcript has them
            return events
        user.partial = text
        if len(text) > len(previous):
            events.append(TranscriptInputDelta(user.id, text[len(previous) :]))
        return events

    def user_final(self, text: str) -> list[ServerEvent]:
        events = self.end()
        if self._user is None and self._echoes(text):
            return events  # the echo of a typed message, which has its item
        user = self._user_turn()
        if user.started:
            events.append(SpeechStopped(user.id))
        if user.announced:
            events.append(AudioInputCommitted(user.id, self._last_item))
        else:
            previous = self.follows(user.id)
            events.append(AudioInputCommitted(user.id, previous))
            item = MessageItem(user.id, "user", (AudioPart(transcript=text),), "completed")
            events.append(ItemCreated(item, previous))
            user.announced = True
        events.append(TranscriptInput(user.id, text))
        self._user = None
        return events

    # -- internals --------------------------------------------------------------------------------

    def _echoes(self, text: str) -> bool:
        """``text`` repeats a message typed within :data:`ECHO_WITHIN_S` (taken off the list:
        one echo each); older ones are forgotten."""
        since = self._clock() - ECHO_WITHIN_S
        typed = self._typed
        while typed and typed[0][1] < since:
            typed.popleft()
        for entry in typed:
            if entry[0] == text:
                typed.remove(entry)
                return True
        return False

    def _user_turn(self) -> _UserTurn:
        if self._user is None:
            self._user = _UserTurn(self.new_id("item"))
        return self._user

    def _announce_user(self, events: list[ServerEvent]) -> _UserTurn:
        user = self._user_turn()
        if not user.announced:
            item = MessageItem(user.id, "user", (AudioPart(),), "in_progress")
            events.append(ItemCreated(item, self.follows(user.id)))
            user.announced = True
        return user

    def _output(self, event_id: int) -> list[ServerEvent]:
        """The agent says something of turn ``event_id``: the response it belongs to is open."""
        self._last_output = self._clock()
        self._quiet_s = END_AFTER_S
        events: list[ServerEvent] = []
        response = self._response
        if response is not None and event_id > response.event_id:
            events += self._end_response("completed", None, flush=True)
            response = None
        if response is None:
            self._response = _Response(self.new_id("resp"), event_id)
            events.append(ResponseCreated(self._response.id))
        return events

    def _current_item(self, events: list[ServerEvent]) -> tuple[_Response, _Item]:
        response = self._response
        assert response is not None
        if response.item is None:
            item = response.item = _Item(self.new_id("item"))
            content: tuple[ContentPart, ...] = () if self.text_only else (AudioPart(),)
            message = MessageItem(item.id, "assistant", content, "in_progress")
            events.append(ItemCreated(message, self.follows(item.id)))
        return response, response.item

    def _finish_item(self, response: _Response, *, flush: bool = True) -> list[ServerEvent]:
        item, response.item = response.item, None
        if item is None:
            return []
        events: list[ServerEvent] = []
        if item.audio_bytes:
            tail = self.bridge.end_output() if flush and self.holds_audio else b""
            self.holds_audio = False
            if tail:
                item.audio_bytes += len(tail)
                events.append(AudioOutputDelta.from_bytes(response.id, item.id, tail))
            events.append(AudioOutputDone(response.id, item.id))
        if item.text is None and item.streamed:
            text = "".join(item.streamed)
            done = TextOutput if self.text_only else TranscriptOutput
            events.append(done(response.id, item.id, text))
            self._remember(item.id, response.id, text)
        return events

    def _end_response(
        self, status: ResponseStatus, reason: str | None, *, flush: bool
    ) -> list[ServerEvent]:
        response, self._response = self._response, None
        if response is None:
            return []
        events = self._finish_item(response, flush=flush)
        usage, self._usage = self._usage, None
        events.append(ResponseDone(response.id, status, usage, reason))
        return events

    def _remember(self, item_id: str, response_id: str, text: str) -> None:
        self._spoken[item_id] = (response_id, text)
        self._spoken.move_to_end(item_id)
        while len(self._spoken) > _KEPT_ITEMS:
            self._spoken.popitem(last=False)


def _decoded_length(audio_b64: str) -> int:
    """Bytes ``audio_b64`` decodes to, without decoding it."""
    size = len(audio_b64) * 3 // 4
    if audio_b64.endswith("=="):
        return size - 2
    if audio_b64.endswith("="):
        return size - 1
    return size
