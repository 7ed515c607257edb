"""The fake ElevenLabs agent's turns: user speech and text in, scripted replies out.

Ids, as on the real platform: every user turn (speech that started, or a ``user_message``) takes
the next integer ``event_id``; the user's transcripts and the agent's whole reply to that turn
(text parts, ``agent_response``, every ``audio`` chunk, a ``client_tool_call``) carry the same
id. When the user starts speaking during a reply, the new turn's id goes out in
``interruption{event_id}``, so a client drops audio whose id is *lower* than the interruption's
and keeps the reply that follows it (same id). The first message gets its own id.

A reply, once chosen from the :class:`~voicewire.testing.Script`:

* ``agent_chat_response_part`` ``start`` (empty text), then ``agent_response`` with the whole
  text, sent right before the first audio chunk (so before the user hears it);
* :class:`AudioReply`: the audio chunks (tone in the agent's output format), each preceded by
  the ``agent_chat_response_part`` ``delta`` words due by then; :class:`TextReply` (or any reply
  in a text-only conversation): only the word deltas, ``pace`` apart;
* ``agent_chat_response_part`` ``stop``, unless interrupted;
* :class:`ToolCallReply`: ``client_tool_call`` (``parameters`` an object), then the agent waits
  for the ``client_tool_result`` (``tool_response_timeout_s``), and answers with the reply's
  ``then`` (or the script's default) in the same turn.

An interruption stops the reply between two chunks, sends ``interruption`` with the new turn's
id and, when the user had heard less than ``agent_response`` announced,
``agent_response_correction`` with the words actually sent; the conversation keeps the
corrected text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..energy_vad import SpeechStart, VadSettings
from ..responder import ResponseRun, choose_reply, speech_chunks, stream_speech, stream_text
from ..script import AudioReply, Reply, Script, TextReply, ToolCallReply
from .state import AgentTurn, Conversation, Event

__all__ = ["TurnHandlers"]

_STOP_TIMEOUT_S = 5.0


class TurnHandlers:
    """User input and agent replies; mixed into the server, which provides sending."""

    script: Script
    vad_rms_threshold: float
    silence_duration_ms: int
    undeclared_tool_calls: list[str]
    violations: list[str]
    _send: Callable[[Conversation, Event], Awaitable[None]]
    _spawn: Callable[[Conversation, Awaitable[None]], asyncio.Task[None]]
    _call_ids: itertools.count[int]

    # --- user input --------------------------------------------------------------------------

    async def _on_user_audio(self, conv: Conversation, pcm16: bytes) -> None:
        """Feed user audio to the VAD: speech starts a turn (interrupting the agent), quiet
        after it ends the turn and makes the agent answer."""
        conv.input_audio.extend(pcm16)
        settings = VadSettings(silence_duration_ms=self.silence_duration_ms)
        rate = conv.agent.input_format.rate
        for event in list(conv.vad.feed(pcm16, rate, self.vad_rms_threshold, settings)):
            if isinstance(event, SpeechStart):
                conv.user_turn_id = conv.next_event_id()
                await self._set_vad_score(conv, 1.0)
                await self._interrupt(conv, conv.user_turn_id)
            else:
                await self._set_vad_score(conv, 0.0)
                await self._end_user_turn(conv)

    async def _set_vad_score(self, conv: Conversation, score: float) -> None:
        if conv.vad_score != score:
            conv.vad_score = score
            await self._send(conv, {"type": "vad_score", "vad_score_event": {"vad_score": score}})

    async def _end_user_turn(self, conv: Conversation) -> None:
        event_id = conv.user_turn_id if conv.user_turn_id is not None else conv.next_event_id()
        conv.user_turn_id = None
        conv.vad.commit()
        transcript = self.script.next_transcript()
        words = transcript.split()
        for count in range(1, len(words)):
            partial = " ".join(words[:count])
            await self._send(
                conv,
                {
                    "type": "tentative_user_transcript",
                    "tentative_user_transcription_event": {
                        "user_transcript": partial,
                        "event_id": event_id,
                    },
                },
            )
        await self._send(
            conv,
            {
                "type": "user_transcript",
                "user_transcription_event": {"user_transcript": transcript, "event_id": event_id},
            },
        )
        conv.history.append({"role": "user", "text": transcript, "event_id": event_id})
        self._start_turn(conv, self.script.choose(transcript), event_id)

    async def _on_user_message(self, conv: Conversation, text: str | None) -> None:
        """Typed text: a user turn of its own (it interrupts a reply in progress)."""
        event_id = conv.next_event_id()
        await self._interrupt(conv, event_id)
        conv.history.append({"role": "user", "text": text or "", "event_id": event_id})
        self._start_turn(conv, self.script.choose(text), event_id)

    async def _on_tool_result(self, conv: Conversation, message: Event) -> None:
        call_id = str(message.get("tool_call_id"))
        future = conv.tool_results.pop(call_id, None)
        result = message.get("result")
        conv.history.append(
            {
                "role": "tool_result",
                "tool_call_id": call_id,
                "result": result,
                "is_error": message.get("is_error"),
            }
        )
        if call_id not in conv.calls:
            self.violations.append(f"client_tool_result: unknown tool_call_id {call_id!r}")
        if future is not None and not future.done():
            future.set_result(message)

    # --- agent turns -------------------------------------------------------------------------

    def _start_turn(self, conv: Conversation, reply: Reply, event_id: int) -> None:
        turn = AgentTurn(event_id=event_id, run=ResponseRun(id=f"turn_{event_id}"))
        conv.agent_turn = turn
        turn.task = self._spawn(conv, self._run_turn(conv, turn, reply))

    async def _interrupt(self, conv: Conversation, event_id: int) -> None:
        """Stop the reply in progress (if any) for the user turn ``event_id``."""
        turn = conv.agent_turn
        if turn is None or turn.done:
            return
        turn.run.cancel("interrupted")
        if turn.task is not None:
            _, pending = await asyncio.wait({turn.task}, timeout=_STOP_TIMEOUT_S)
            for task in pending:
                task.cancel()
        await self._send(
            conv, {"type": "interruption", "interruption_event": {"event_id": event_id}}
        )
        if turn.announced and turn.said != turn.original:
            await self._send(
                conv,
                {
                    "type": "agent_response_correction",
                    "agent_response_correction_event": {
                        "original_agent_response": turn.original,
                        "corrected_agent_response": turn.said,
                        "event_id": turn.event_id,
                    },
                },
            )
            if turn.entry is not None:
                turn.entry["text"] = turn.said
                turn.entry["interrupted"] = True

    async def _run_turn(self, conv: Conversation, turn: AgentTurn, reply: Reply) -> None:
        current: Reply | None = reply
        while current is not None and not turn.run.cancelled:
            if isinstance(current, ToolCallReply):
                current = await self._call_tool(conv, turn, current)
            else:
                await self._speak(conv, turn, current)
                current = None

    async def _call_tool(
        self, conv: Conversation, turn: AgentTurn, reply: ToolCallReply
    ) -> Reply | None:
        call_id = reply.call_id or f"toolu_{next(self._call_ids):04d}"
        conv.calls[call_id] = reply
        if reply.name not in conv.agent.client_tools:
            self.undeclared_tool_calls.append(reply.name)
        parameters = json.loads(reply.arguments_json)
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        conv.tool_results[call_id] = future
        conv.history.append(
            {
                "role": "tool_call",
                "tool_name": reply.name,
                "tool_call_id": call_id,
                "parameters": parameters,
                "event_id": turn.event_id,
            }
        )
        await self._send(
            conv,
            {
                "type": "client_tool_call",
                "client_tool_call": {
                    "tool_name": reply.name,
                    "tool_call_id": call_id,
                    "parameters": parameters if isinstance(parameters, dict) else {},
                    "event_id": turn.event_id,
                },
            },
        )
        # Wait for the result, an interruption, or the agent's tool timeout.
        cancelled = asyncio.ensure_future(turn.run.pause(conv.agent.tool_response_timeout_s))
        waiters: set[asyncio.Future[Any]] = {future, cancelled}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
        if not future.done():
            conv.tool_results.pop(call_id, None)
            if not turn.run.cancelled:
                self.violations.append(
                    f"client_tool_call {call_id}: no client_tool_result within "
                    f"{conv.agent.tool_response_timeout_s} s"
                )
            return None
        return choose_reply(self.script, conv.calls, tool_output_call_id=call_id, user_text=None)

    async def _speak(
        self, conv: Conversation, turn: AgentTurn, reply: TextReply | AudioReply
    ) -> None:
        text = reply.text if isinstance(reply, TextReply) else reply.transcript
        turn.original = text
        turn.entry = {"role": "agent", "text": text, "event_id": turn.event_id}
        conv.history.append(turn.entry)
        await self._part(conv, turn, "start", "")
        turn.announced = True
        await self._send(
            conv,
            {
                "type": "agent_response",
                "agent_response_event": {"agent_response": text, "event_id": turn.event_id},
            },
        )

        async def say(word: str) -> None:
            turn.said += word
            await self._part(conv, turn, "delta", word)

        async def play(chunk: bytes) -> None:
            await self._send(conv, _audio(chunk, turn.event_id))

        if isinstance(reply, TextReply) or conv.agent.text_only:
            pace = reply.pace
            await stream_text(turn.run, text, pace, say)
        else:
            out = conv.agent.output_format
            chunks = speech_chunks(reply, out.rate, out.sample_width, out.encode)
            await stream_speech(turn.run, chunks, text, reply.pace, say=say, play=play)
        if not turn.run.cancelled:
            await self._part(conv, turn, "stop", "")

    async def _part(self, conv: Conversation, turn: AgentTurn, kind: str, text: str) -> None:
        await self._send(
            conv,
            {
                "type": "agent_chat_response_part",
                "text_response_part": {"text": text, "type": kind, "event_id": turn.event_id},
            },
        )

    async def _cancel_turn(self, conv: Conversation) -> None:
        """Stop the reply in progress without telling the client (the socket is closing)."""
        turn = conv.agent_turn
        if turn is not None and turn.task is not None and not turn.task.done():
            turn.run.cancel("closed")
            turn.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait({turn.task}, timeout=_STOP_TIMEOUT_S)


def _audio(chunk: bytes, event_id: int) -> dict[str, Any]:
    return {
        "type": "audio",
        "audio_event": {"audio_base_64": base64.b64encode(chunk).decode(), "event_id": event_id},
    }
