"""Neutral client events to Gemini Live frames (sans-I/O).

Every frame has exactly one top-level key (``realtimeInput``, ``clientContent``,
``toolResponse``), camelCase throughout. Gemini never echoes what the client sends, so the
encoder also returns the acknowledgements the session's ledger waits for (``item.created`` of a
created item or of a tool result): the connection emits them once the frame is on the socket.

Mapping (Gemini 2.5 / 3.x where they differ):

* ``audio.input.append`` → ``realtimeInput.audio`` at 16 kHz, resampled from the session's input
  format (24 kHz PCM16 when the config names none, as the session then sends) by one streaming
  converter per connection. Under manual turns an ``activityStart`` goes
  first when no activity is open, so an app that only appends and commits works too. The
  resampler holds the last 20-60 ms until more comes: that tail goes out before the turn's end
  (``activityEnd``, ``audioStreamEnd``), and otherwise once the app has sent no audio for
  :data:`~voicewire.providers.codec_connection.INPUT_RELEASE_AFTER_S` (the connection's writer
  asks :meth:`GeminiClientCodec.send_idle` when it has had nothing to write that long), so the
  end of what the user said reaches Gemini even when nothing follows it (a WAV file ends, the
  user waits for the answer).
* ``audio.input.commit`` → ``activityEnd`` (manual turns) or ``audioStreamEnd`` (voice detection).
* ``activity.start`` / ``activity.end`` → ``activityStart`` / ``activityEnd`` (manual turns only;
  Gemini refuses them while its own detection runs).
* ``item.create`` → a ``clientContent`` turn without ``turnComplete`` (2.5: users, the assistant
  as ``model``, tool calls and results), so replayed history triggers no answers; on 3.x a user's
  text goes as ``realtimeInput.text`` (which is answered) and other items cannot be sent.
* ``response.create`` → ``clientContent{turnComplete: true}`` (2.5) or a ``realtimeInput.text``
  nudge (3.x); absorbed (no frame) when an answer is already on its way (a manual turn's end, a
  tool result, 3.x text), since Gemini answers those by itself.
* ``tool.result`` → ``toolResponse.functionResponses[{id, name, response}]``; ``response`` is a
  JSON object (Gemini closes the socket with 1007 otherwise): an object output as is, anything
  else as ``{"output": ...}``, errors as ``{"error": ...}``. The result of a call Gemini
  cancelled (``toolCallCancellation``) is not sent: the model no longer waits for it.
* ``audio.input.clear``, ``item.delete``, ``item.truncate`` and ``response.cancel`` have no
  Gemini message: ``encode`` returns ``None`` (the capabilities say so). Nor has a changed
  ``session.update``: the connection applies it by moving to a new socket with a new setup and
  calls :meth:`GeminiClientCodec.reconfigure`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from ...audio import AudioConverter, encode_base64
from ...protocol import (
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    AudioInputCommit,
    AudioPart,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    MessageItem,
    ResponseCreate,
    ServerEvent,
    SessionConfig,
    SessionUpdate,
    SessionUpdated,
    TextPart,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
)
from ..codec_connection import INPUT_RELEASE_AFTER_S
from .setup import INPUT_RATE, takes_realtime_text
from .turns import TurnState

__all__ = ["INPUT_MIME", "Encoded", "GeminiClientCodec", "function_response"]

log = logging.getLogger("voicewire.connection")

INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"
WIRE_INPUT = AudioFormat.pcm16(INPUT_RATE)
SESSION_DEFAULT = AudioFormat.pcm16()
"""The audio a session sends when its config names no input format (PCM16 at 24 kHz)."""
NUDGE_TEXT = " "
"""What asks a 3.x model to speak when there is nothing new to say (as pipecat does)."""


@dataclass(slots=True)
class Encoded:
    """What one client event becomes: frames to send (possibly none) and the acknowledgements to
    emit once they are sent."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    acks: list[ServerEvent] = field(default_factory=list)


class GeminiClientCodec:
    """Encodes the client events of one connection (stateful: resampler, manual activity)."""

    def __init__(self, model_id: str, config: SessionConfig | None, turns: TurnState) -> None:
        self.config = config or SessionConfig()
        self.turns = turns
        self.realtime_text = takes_realtime_text(model_id)
        turn = self.config.turn_detection
        self.manual = turn is not None and turn.mode == "manual"
        # No format given: the session's default, which is what every channel then sends.
        source = self.config.input_audio_format or SESSION_DEFAULT
        self._input = AudioConverter(source, WIRE_INPUT)
        self._input_held = False  # the input resampler may hold the end of the user's audio

    def reconfigure(self, config: SessionConfig) -> None:
        """Encode what follows for ``config`` (a ``session.update`` the connection applies by
        moving to a socket with the new setup): turn mode and input format."""
        source = config.input_audio_format or self._input.src
        if source != self._input.src:
            self._input = AudioConverter(source, WIRE_INPUT)
            self._input_held = False
        turn = config.turn_detection
        manual = turn is not None and turn.mode == "manual"
        if manual != self.manual:
            self.turns.activity_open = False  # the new socket starts with no activity open
        self.config, self.manual = config, manual

    def encode(self, event: ClientEvent) -> Encoded | None:
        """The frames for ``event``; ``None`` when Gemini has no way to say it."""
        if isinstance(event, AudioInputAppend):  # first: one per audio frame
            return self._audio(event.audio)
        if isinstance(event, ItemCreate):
            return self._item(event)
        if isinstance(event, ToolResult):
            return self._tool_result(event)
        if isinstance(event, ResponseCreate):
            return self._response_create()
        if isinstance(event, AudioInputCommit):
            if self.manual:
                return self._activity_end() if self.turns.activity_open else Encoded()
            return Encoded([*self._tail(), {"realtimeInput": {"audioStreamEnd": True}}])
        if isinstance(event, ActivityStart):
            return self._activity_start() if self.manual else None
        if isinstance(event, ActivityEnd):
            return self._activity_end() if self.manual else None
        if isinstance(event, SessionUpdate) and event.config == self.config:
            return Encoded(acks=[SessionUpdated()])
        return None

    def send_idle_after(self) -> float | None:
        """Seconds without client audio after which :meth:`send_idle` has the end of it to send,
        or ``None`` (the same hook as a
        :class:`~voicewire.providers.codec_connection.CodecConnection` codec's)."""
        return INPUT_RELEASE_AFTER_S if self._input_held else None

    def send_idle(self) -> list[dict[str, Any]]:
        """The app's audio paused: the ``realtimeInput.audio`` frame with what the input
        resampler held (none when it held nothing)."""
        return self._tail()

    # -- audio and activity ----------------------------------------------------------------------

    def _audio(self, audio: bytes) -> Encoded:
        encoded = Encoded()
        if self.manual and not self.turns.activity_open:
            encoded.frames.extend(self._activity_start().frames)
        pcm = self._input.convert(audio)
        self._input_held = self._input_held or (bool(audio) and not self._input.passthrough)
        if pcm:
            encoded.frames.append(_audio_frame(pcm))
        return encoded

    def _tail(self) -> list[dict[str, Any]]:
        """The frame with what the input resampler holds, if anything (it starts afresh)."""
        if not self._input_held:
            return []
        self._input_held = False
        pcm = self._input.flush()
        return [_audio_frame(pcm)] if pcm else []

    def _activity_start(self) -> Encoded:
        self.turns.activity_open = True
        return Encoded([{"realtimeInput": {"activityStart": {}}}])

    def _activity_end(self) -> Encoded:
        self.turns.activity_open = False
        self.turns.user_turn_ended = True
        self.turns.answer_pending = True  # Gemini answers a manual turn at its end
        return Encoded([*self._tail(), {"realtimeInput": {"activityEnd": {}}}])

    # -- items, results, responses ---------------------------------------------------------------

    def _item(self, event: ItemCreate) -> Encoded | None:
        item = event.item
        if item.id is None:
            item = replace(item, id=self.turns.new_id("item"))
        frame = self._item_frame(item)
        if frame is None:
            return None
        previous = event.previous_item_id or self.turns.last_item_id
        self.turns.last_item_id = item.id
        return Encoded([frame], [ItemCreated(item, previous)])

    def _item_frame(
        self, item: MessageItem | ToolCallItem | ToolResultItem
    ) -> dict[str, Any] | None:
        if self.realtime_text:
            if isinstance(item, MessageItem) and item.role == "user" and _words(item):
                self.turns.answer_pending = True  # 3.x answers text at once
                return {"realtimeInput": {"text": _words(item)}}
            return None  # 3.x takes clientContent only as initial history
        turn: dict[str, Any]
        if isinstance(item, MessageItem):
            words = _words(item)
            if not words:
                return None
            # Gemini has no system role in a conversation: system text is the user's words.
            role = "model" if item.role == "assistant" else "user"
            turn = {"role": role, "parts": [{"text": words}]}
        elif isinstance(item, ToolCallItem):
            self.turns.call_names[item.call_id] = item.name
            call = {"id": item.call_id, "name": item.name, "args": _arguments(item.arguments)}
            turn = {"role": "model", "parts": [{"functionCall": call}]}
        else:
            response = function_response(item.call_id, item.name, item.output, is_error=False)
            response["name"] = response["name"] or self.turns.call_names.get(item.call_id, "")
            turn = {"role": "user", "parts": [{"functionResponse": response}]}
        return {"clientContent": {"turns": [turn], "turnComplete": False}}

    def _tool_result(self, event: ToolResult) -> Encoded:
        name = event.name or self.turns.call_names.get(event.call_id)
        item = ToolResultItem(self.turns.new_id("item"), event.call_id, event.output, name)
        previous, self.turns.last_item_id = self.turns.last_item_id, item.id
        acks: list[ServerEvent] = [ItemCreated(item, previous)]
        if event.call_id in self.turns.withdrawn:  # Gemini cancelled the call: it waits no more
            self.turns.withdrawn.discard(event.call_id)
            return Encoded(acks=acks)
        response = function_response(event.call_id, name, event.output, is_error=event.is_error)
        self.turns.answer_pending = True  # the model goes on by itself after a tool response
        return Encoded([{"toolResponse": {"functionResponses": [response]}}], acks)

    def _response_create(self) -> Encoded:
        if self.turns.answer_pending:
            self.turns.answer_pending = False
            return Encoded()  # an answer is already on its way
        self.turns.answer_pending = True
        if self.realtime_text:
            return Encoded([{"realtimeInput": {"text": NUDGE_TEXT}}])
        return Encoded([{"clientContent": {"turnComplete": True}}])


def function_response(
    call_id: str, name: str | None, output: str, *, is_error: bool
) -> dict[str, Any]:
    """A ``FunctionResponse``: ``response`` is always a JSON object."""
    value = _parse(output)
    if is_error:
        response: dict[str, Any] = {"error": value}
    elif isinstance(value, dict):
        response = value
    else:
        response = {"output": value}
    return {"id": call_id, "name": name or "", "response": response}


def _audio_frame(pcm: bytes) -> dict[str, Any]:
    return {"realtimeInput": {"audio": {"mimeType": INPUT_MIME, "data": encode_base64(pcm)}}}


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _arguments(text: str) -> dict[str, Any]:
    value = _parse(text)
    return value if isinstance(value, dict) else {}


def _words(item: MessageItem) -> str:
    """The item's words: text parts and transcripts (an audio part without one adds nothing)."""
    parts = (
        p.text if isinstance(p, TextPart) else (p.transcript or "")
        for p in item.content
        if isinstance(p, TextPart | AudioPart)
    )
    return "".join(parts)
