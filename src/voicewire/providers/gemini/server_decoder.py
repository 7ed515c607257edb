"""Gemini Live server messages to neutral server events (sans-I/O).

Gemini has no ids, no ``response.created`` and no ``item.created``; it streams ``serverContent``
(model parts, transcription fragments, ``generationComplete``, ``interrupted``,
``turnComplete``), ``toolCall``, ``toolCallCancellation``, ``usageMetadata``, ``voiceActivity``
and, for the connection, ``setupComplete``, ``goAway`` and ``sessionResumptionUpdate``. Newer
models bundle several of these in one message, so every field of every message is read, in the
order a turn unfolds: voice activity, usage, the user's words, the model's content, then the
turn's end, then tool calls.

What the decoder makes of a turn is what the OpenAI codec yields for one: ``speech.started`` /
``speech.stopped`` (from ``voiceActivity``), ``audio.input.committed`` and ``item.created`` for
the user's turn (at the end of its speech, its first transcript fragment, or the start of the
answer to a manual turn), ``transcript.input.delta`` / ``transcript.input``, ``response.created``
and ``item.created`` of the assistant message at its first content, ``audio.output.delta`` (24 kHz
resampled to the session's output format) / ``text.output.delta`` / ``transcript.output.delta``,
``audio.output.done`` (``generationComplete``), ``transcript.output`` / ``text.output`` and
``response.done`` with usage (``turnComplete``). A barge-in (``interrupted``) yields exactly one
``response.interrupted``, and the turn ends ``cancelled``. A tool call ends its response (as a
function call ends an OpenAI response); what the model says after the tool's result is a new
response. A user item whose first words arrive after the answer began is placed before the
answer (``previous_item_id``), so the history reads in the order things were said.

Unknown fields are ignored (logged at debug): the server adds fields over time. Malformed known
fields raise :class:`~voicewire.protocol.ProtocolError` with the path of the field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json

from ...audio import AudioConverter, decode_base64, encode_base64
from ...protocol import (
    AudioFormat,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ItemCreated,
    MessageItem,
    ProtocolError,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ResponseStatus,
    SessionConfig,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    TextPart,
    ToolCall,
    ToolCallItem,
    ToolCancelled,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptOutput,
    TranscriptOutputDelta,
    Usage,
)
from .fields import as_list, as_object, duration_seconds, optional_str, usage_from
from .setup import OUTPUT_RATE
from .signals import Decoded, GoAway, ResumptionUpdate, SetupComplete
from .turns import TurnState

__all__ = ["GeminiServerDecoder"]

log = logging.getLogger("voicewire.connection")

KNOWN_KEYS = frozenset(
    {
        "setupComplete",
        "serverContent",
        "toolCall",
        "toolCallCancellation",
        "usageMetadata",
        "goAway",
        "sessionResumptionUpdate",
        "voiceActivity",
        "voiceActivityDetectionSignal",
    }
)

CONTENT_KEYS = frozenset(
    {
        "modelTurn",
        "inputTranscription",
        "outputTranscription",
        "generationComplete",
        "interrupted",
        "turnComplete",
        "turnCompleteReason",
    }
)
"""The ``serverContent`` fields read; the others (grounding and URL-context metadata,
``waitingForInput``, ``interactionStatus``, interim transcripts) carry nothing neutral."""


@dataclass(slots=True)
class _Response:
    response_id: str
    anchor: str | None
    """The item before the response began: a late user item goes after it."""
    item_id: str | None = None
    audio_bytes: int = 0
    audio_done: bool = False
    text: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    interrupted: bool = False
    usage: Usage | None = None


@dataclass(slots=True)
class _UserTurn:
    item_id: str
    words: list[str] = field(default_factory=list)
    outlives: str | None = None
    """A response that was cut off by this turn's speech: its end does not end these words,
    which go on after it; ``None``: the next response's end ends them."""


class GeminiServerDecoder:
    """Decodes the server messages of one connection (stateful across its resumptions)."""

    def __init__(self, config: SessionConfig | None, turns: TurnState) -> None:
        config = config or SessionConfig()
        self.turns = turns
        self.output_format = config.output_audio_format or AudioFormat.pcm16(OUTPUT_RATE)
        self._output = AudioConverter(AudioFormat.pcm16(OUTPUT_RATE), self.output_format)
        self._response: _Response | None = None
        self._user: _UserTurn | None = None
        self._speech_item: str | None = None
        self._usage: Usage | None = None

    def reconfigure(self, config: SessionConfig) -> None:
        """Decode what follows for ``config`` (a ``session.update``): its output format."""
        output = config.output_audio_format or self.output_format
        if output != self.output_format:
            self.output_format = output
            self._output = AudioConverter(self._output.src, output)

    @property
    def in_turn(self) -> bool:
        """A response is under way (moving sockets now would lose the rest of it)."""
        return self._response is not None

    # -- entry points ----------------------------------------------------------------------------

    def decode_text(self, text: str | bytes) -> list[Decoded]:
        """Parse one frame (Gemini sends JSON, as text or binary frames) and decode it."""
        try:
            message = from_json(text)
        except ValueError as exc:
            raise ProtocolError(f"gemini sent a frame that is not JSON: {exc}") from None
        return self.decode(message)

    def decode(self, message: object) -> list[Decoded]:
        """Decode one parsed server message into events and connection signals."""
        message = as_object(message, "server message")
        out: list[Decoded] = []
        unknown = [key for key in message if key not in KNOWN_KEYS]
        if unknown:
            log.debug("gemini sent fields this decoder does not know: %s", unknown)
        if "setupComplete" in message:
            setup = as_object(message["setupComplete"] or {}, "setupComplete")
            out.append(
                SetupComplete(optional_str(setup.get("sessionId"), "setupComplete.sessionId"))
            )
        if "voiceActivity" in message:
            self._voice_activity(message["voiceActivity"], out)
        if "usageMetadata" in message and message["usageMetadata"] is not None:
            # The usage of the response under way, or of the one this message starts.
            self._usage = usage_from(message["usageMetadata"])
            if self._response is not None:
                self._response.usage = self._usage
        try:
            self._content(message, out)
        finally:
            self._usage = None
        return out

    def _content(self, message: Mapping[str, Any], out: list[Decoded]) -> None:
        if "serverContent" in message and message["serverContent"] is not None:
            self._server_content(as_object(message["serverContent"], "serverContent"), out)
        if "toolCall" in message and message["toolCall"] is not None:
            self._tool_call(as_object(message["toolCall"], "toolCall"), out)
        if "toolCallCancellation" in message and message["toolCallCancellation"] is not None:
            cancellation = as_object(message["toolCallCancellation"], "toolCallCancellation")
            for index, call_id in enumerate(
                as_list(cancellation.get("ids"), "toolCallCancellation.ids")
            ):
                call_id = optional_str(call_id, f"toolCallCancellation.ids[{index}]")
                if call_id:
                    self.turns.withdrawn.add(call_id)
                    out.append(ToolCancelled(call_id))
        if "goAway" in message and message["goAway"] is not None:
            go_away = as_object(message["goAway"], "goAway")
            left = go_away.get("timeLeft")
            out.append(GoAway(0.0 if left is None else duration_seconds(left, "goAway.timeLeft")))
        if "sessionResumptionUpdate" in message and message["sessionResumptionUpdate"] is not None:
            out.append(self._resumption(message["sessionResumptionUpdate"]))

    def link_changed(self) -> list[Decoded]:
        """The connection moved to a new socket: a turn still open on the old one never ends
        there, so it ends here (``incomplete``), and audio half-resampled is dropped."""
        out: list[Decoded] = []
        if self._response is not None:
            self._finish(out, "incomplete", reason="session_resumed")
        self._output.reset()
        return out

    # -- voice activity and the user's turn ------------------------------------------------------

    def _voice_activity(self, value: object, out: list[Decoded]) -> None:
        activity = as_object(value, "voiceActivity")
        kind = optional_str(activity.get("voiceActivityType"), "voiceActivity.voiceActivityType")
        user = self._user if self._response is None else None  # a turn not yet answered
        if kind == "ACTIVITY_START":
            # Speech again before the answer began: the same turn goes on.
            self._speech_item = user.item_id if user is not None else self.turns.new_id("item")
            out.append(SpeechStarted(self._speech_item))
        elif kind == "ACTIVITY_END":
            item_id = self._speech_item or (user.item_id if user else self.turns.new_id("item"))
            out.append(SpeechStopped(item_id))
            if self._user is None:
                self._speech_item = item_id
                self._user_item(out)
            self._speech_item = None
        else:
            log.debug("gemini voiceActivity of unknown type %r ignored", kind)

    def _user_item(self, out: list[Decoded]) -> _UserTurn:
        """The user item of the current turn, made (committed and created) if there is none."""
        if self._user is not None:
            return self._user
        item_id, self._speech_item = self._speech_item or self.turns.new_id("item"), None
        response = self._response
        outlives: str | None = None
        if response is not None and not response.interrupted:
            previous = response.anchor  # words of the turn this response answers
            response.anchor = item_id
        else:
            previous = self.turns.last_item_id
            self.turns.last_item_id = item_id
            if response is not None:  # the barge-in that cut it
                outlives = response.response_id
        self.turns.user_turn_ended = False
        self._user = _UserTurn(item_id, outlives=outlives)
        out.append(AudioInputCommitted(item_id, previous))
        out.append(ItemCreated(MessageItem(item_id, "user", (AudioPart(),), "completed"), previous))
        return self._user

    def _input_transcription(self, value: object, out: list[Decoded]) -> None:
        data = as_object(value, "serverContent.inputTranscription")
        text = optional_str(data.get("text"), "serverContent.inputTranscription.text") or ""
        finished = data.get("finished") is True
        if not text.strip() and (not finished or self._user is None):
            return  # no words, and no turn to finish
        user = self._user_item(out)
        if not user.words:
            text = text.lstrip()  # the first fragment comes with a leading space
        if text:
            user.words.append(text)
            out.append(TranscriptInputDelta(user.item_id, text))
        if finished:
            self._finish_user(out)

    def _finish_user(self, out: list[Decoded]) -> None:
        """The user's turn is over; its transcript, when it has words (without input
        transcription it has none, and the answer's end acknowledges its audio)."""
        user, self._user = self._user, None
        if user is not None and user.words:
            out.append(TranscriptInput(user.item_id, "".join(user.words).strip()))

    # -- the model's turn ------------------------------------------------------------------------

    def _server_content(self, content: Mapping[str, Any], out: list[Decoded]) -> None:
        path = "serverContent"
        unknown = [key for key in content if key not in CONTENT_KEYS]
        if unknown:
            log.debug("gemini serverContent fields ignored: %s", unknown)
        if content.get("inputTranscription") is not None:
            self._input_transcription(content["inputTranscription"], out)
        if content.get("modelTurn") is not None:
            turn = as_object(content["modelTurn"], f"{path}.modelTurn")
            for index, part in enumerate(as_list(turn.get("parts"), f"{path}.modelTurn.parts")):
                self._part(as_object(part, f"{path}.modelTurn.parts[{index}]"), index, out)
        if content.get("outputTranscription") is not None:
            data = as_object(content["outputTranscription"], f"{path}.outputTranscription")
            text = optional_str(data.get("text"), f"{path}.outputTranscription.text")
            if text:
                response = self._open(out, audio=True)
                response.transcript.append(text)
                out.append(TranscriptOutputDelta(response.response_id, response.item_id, text))
        if content.get("generationComplete") is True and self._response is not None:
            self._generation_complete(self._response, out)
        if content.get("interrupted") is True:
            self._interrupted(out)
        if content.get("turnComplete") is True:
            self._turn_complete(content, out)

    def _part(self, part: Mapping[str, Any], index: int, out: list[Decoded]) -> None:
        path = f"serverContent.modelTurn.parts[{index}]"
        if part.get("thought") is True:
            return  # the model's thinking is not said to anyone
        if part.get("inlineData") is not None:
            blob = as_object(part["inlineData"], f"{path}.inlineData")
            mime = optional_str(blob.get("mimeType"), f"{path}.inlineData.mimeType") or ""
            data = optional_str(blob.get("data"), f"{path}.inlineData.data")
            if not mime.lower().startswith("audio/pcm"):
                log.debug("gemini inlineData of type %r ignored", mime)
                return
            self._audio(_rate_of(mime, path), decode_base64(data or ""), out)
        text = part.get("text")
        if text is not None:
            text = optional_str(text, f"{path}.text")
            if text:
                response = self._open(out, audio=False)
                response.text.append(text)
                out.append(TextOutputDelta(response.response_id, response.item_id, text))

    def _audio(self, rate: int, pcm: bytes, out: list[Decoded]) -> None:
        if rate != self._output.src.sample_rate:
            self._output = AudioConverter(AudioFormat.pcm16(rate), self.output_format)
        response = self._open(out, audio=True)
        audio = self._output.convert(pcm)
        if audio:
            response.audio_bytes += len(audio)
            out.append(
                AudioOutputDelta(response.response_id, response.item_id, encode_base64(audio))
            )

    def _open(self, out: list[Decoded], *, audio: bool) -> _Response:
        """The response under way, with its assistant item; started at the first content."""
        response = self._response
        if response is not None and response.interrupted:
            self._finish(out, "cancelled", reason="turn_detected")  # no turnComplete came
            response = None
        if response is None:
            response = self._start(out)
        if response.item_id is None:
            response.item_id = self.turns.new_id("item")
            part = AudioPart() if audio else TextPart("")
            item = MessageItem(response.item_id, "assistant", (part,), "in_progress")
            out.append(ItemCreated(item, self.turns.last_item_id))
            self.turns.last_item_id = response.item_id
        return response

    def _start(self, out: list[Decoded]) -> _Response:
        if self.turns.user_turn_ended:  # a manual turn: its user item goes first
            self._user_item(out)
        response = _Response(self.turns.new_id("resp"), self.turns.last_item_id, usage=self._usage)
        self._response = response
        self.turns.answer_pending = False
        out.append(ResponseCreated(response.response_id))
        return response

    def _generation_complete(self, response: _Response, out: list[Decoded]) -> None:
        if response.interrupted or response.audio_done or response.item_id is None:
            return
        tail = self._output.flush()
        if tail:
            response.audio_bytes += len(tail)
            out.append(
                AudioOutputDelta(response.response_id, response.item_id, encode_base64(tail))
            )
        response.audio_done = True
        if response.audio_bytes:
            out.append(AudioOutputDone(response.response_id, response.item_id))

    def _interrupted(self, out: list[Decoded]) -> None:
        response = self._response
        if response is None or response.interrupted:
            return  # nothing under way to cut, or cut already: one report per barge-in
        response.interrupted = True
        self._output.reset()
        heard = None
        if response.item_id is not None:
            heard = response.audio_bytes * 1000 // self.output_format.bytes_per_second
        out.append(ResponseInterrupted(response.response_id, response.item_id, heard))

    def _turn_complete(self, content: Mapping[str, Any], out: list[Decoded]) -> None:
        response = self._response
        if self._user is not None and (
            response is None or self._user.outlives != response.response_id
        ):
            self._finish_user(out)  # the words of the turn this one answered are all in
        if response is None:
            return
        if response.interrupted:
            self._finish(out, "cancelled", reason="turn_detected")
            return
        reason = optional_str(content.get("turnCompleteReason"), "serverContent.turnCompleteReason")
        self._generation_complete(response, out)
        if reason and reason != "TURN_COMPLETE_REASON_UNSPECIFIED":
            self._finish(out, "incomplete", reason=reason.lower())
        else:
            self._finish(out, "completed")

    def _finish(
        self, out: list[Decoded], status: ResponseStatus, *, reason: str | None = None
    ) -> None:
        """End the response: its text and transcript, then ``response.done``."""
        response, self._response = self._response, None
        if response is None:
            return
        if response.item_id is not None:
            if response.text:
                out.append(
                    TextOutput(response.response_id, response.item_id, "".join(response.text))
                )
            if response.transcript or response.audio_bytes:
                text = "".join(response.transcript)
                out.append(TranscriptOutput(response.response_id, response.item_id, text))
        out.append(ResponseDone(response.response_id, status, response.usage, reason))

    # -- tools and resumption --------------------------------------------------------------------

    def _tool_call(self, data: Mapping[str, Any], out: list[Decoded]) -> None:
        calls = as_list(data.get("functionCalls"), "toolCall.functionCalls")
        if not calls:
            return
        response = self._response
        if response is None or response.interrupted:
            response = self._open_for_tools(out)
        for index, raw in enumerate(calls):
            path = f"toolCall.functionCalls[{index}]"
            call = as_object(raw, path)
            name = optional_str(call.get("name"), f"{path}.name")
            if not name:
                raise ProtocolError(f"gemini {path} has no name")
            call_id = optional_str(call.get("id"), f"{path}.id") or self.turns.new_id("call")
            args = call.get("args")
            arguments = json.dumps(as_object(args, f"{path}.args") if args is not None else {})
            self.turns.call_names[call_id] = name
            item_id = self.turns.new_id("item")
            item = ToolCallItem(item_id, call_id, name, arguments, "completed")
            out.append(ItemCreated(item, self.turns.last_item_id))
            self.turns.last_item_id = item_id
            out.append(ToolCall(call_id, name, arguments, item_id, response.response_id))
        self._generation_complete(response, out)
        self._finish(out, "completed")

    def _open_for_tools(self, out: list[Decoded]) -> _Response:
        if self._response is not None:
            self._finish(out, "cancelled", reason="turn_detected")
        return self._start(out)

    def _resumption(self, value: object) -> ResumptionUpdate:
        data = as_object(value, "sessionResumptionUpdate")
        handle = optional_str(data.get("newHandle"), "sessionResumptionUpdate.newHandle")
        resumable = data.get("resumable") is True
        return ResumptionUpdate(handle or None, resumable and bool(handle))


def _rate_of(mime: str, path: str) -> int:
    """The sample rate in ``audio/pcm;rate=24000`` (24 kHz when unsaid)."""
    for param in mime.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "rate":
            if not value.isdigit() or not 8000 <= int(value) <= 192000:
                raise ProtocolError(f"gemini {path}.inlineData.mimeType has a bad rate: {mime!r}")
            return int(value)
    return OUTPUT_RATE
