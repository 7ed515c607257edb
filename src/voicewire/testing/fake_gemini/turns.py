"""The fake Gemini server's model turns: scripted replies as ``serverContent`` on the wire.

A model turn, as Gemini streams it:

* audio as ``serverContent.modelTurn.parts[].inlineData`` (``audio/pcm;rate=24000``), text as
  ``parts[].text``; with ``outputAudioTranscription`` the words as ``outputTranscription``
  fragments. By default one field per message, as the 2.5 models send; ``bundle=True`` puts a
  chunk's words in the same message as the chunk and ends the turn with one message carrying
  ``generationComplete``, ``turnComplete`` and the usage, as the 3.1 models do;
* then ``generationComplete``, then ``turnComplete`` with ``usageMetadata`` beside it;
* a tool call as ``toolCall.functionCalls[]`` with ids; the turn stays open until every call
  has a ``toolResponse``, whose ``then`` reply continues the same turn;
* barge-in (speech, ``activityStart`` or text while the model speaks) stops the stream between
  two chunks: ``interrupted``, then ``turnComplete`` (no ``generationComplete``); calls still
  waiting for a response are withdrawn first with ``toolCallCancellation``;
* with session resumption, ``{"resumable": false}`` when a turn starts and a new handle once it
  is complete.

The conversation records the model's turn with only what was said.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math

from websockets.exceptions import ConnectionClosed

from ..responder import (
    ResponseRun,
    answers_in_text,
    choose_reply,
    speech_chunks,
    stream_speech,
    stream_text,
)
from ..script import AudioReply, Reply, TextReply, ToolCallReply
from .base import GeminiBase
from .state import Frame, GeminiLink, ModelTurn

__all__ = ["OUTPUT_RATE", "TurnHandlers"]

_logger = logging.getLogger("voicewire.testing.fake_gemini")

OUTPUT_RATE = 24000
"""Gemini's output audio rate."""
_OUTPUT_MIME = f"audio/pcm;rate={OUTPUT_RATE}"
_CANCEL_TIMEOUT_S = 5.0


class TurnHandlers(GeminiBase):
    """Starting, streaming, continuing and interrupting the model's turns."""

    def _start_turn(self, link: GeminiLink, reply: Reply, turn: ModelTurn | None = None) -> None:
        """Stream ``reply`` on ``link`` (a new turn, or ``turn`` continued after tool output)."""
        if turn is None:
            turn = ModelTurn(run=ResponseRun(self._new_id("turn")))
            link.turn = turn
            fresh = True
        else:
            turn.run = ResponseRun(self._new_id("turn"))
            fresh = False
        turn.run.task = self._spawn(self._run_turn(link, turn, reply, fresh))

    def _reply_for_text(self, link: GeminiLink) -> Reply:
        session = link.session
        instructions = _instruction_text(self._setup_field(link, "systemInstruction"))
        for contains, reply in self.instruction_rules:
            if contains.lower() in instructions.lower():
                return reply  # the setup in force says how to answer
        return self.script.choose(session.latest_user_text() if session else None)

    async def _run_turn(self, link: GeminiLink, turn: ModelTurn, reply: Reply, fresh: bool) -> None:
        try:
            if fresh:
                await self._not_resumable(link)
            if isinstance(reply, ToolCallReply):
                await self._call_tool(link, turn, reply)
                if not turn.run.cancelled:
                    return  # the turn goes on when every call has its response
            else:
                await self._stream(link, turn, reply)
            await self._end_turn(link, turn)
        except ConnectionClosed:
            pass
        except Exception:
            _logger.exception("fake Gemini server failed while streaming a turn")

    async def _stream(self, link: GeminiLink, turn: ModelTurn, reply: Reply) -> None:
        modalities = self._setup_field(link, "generationConfig", "responseModalities")
        wanted = [str(m).lower() for m in modalities] if isinstance(modalities, list) else None
        transcribe = self._setup_field(link, "outputAudioTranscription") is not None
        pending_words: list[str] = []

        async def say_text(word: str) -> None:
            turn.said.append(word)
            await self._send(link, {"serverContent": {"modelTurn": {"parts": [{"text": word}]}}})

        async def say(word: str) -> None:
            turn.said.append(word)
            if not transcribe:
                return
            if self.bundle:
                pending_words.append(word)
            else:
                await self._send(link, {"serverContent": {"outputTranscription": {"text": word}}})

        async def play(chunk: bytes) -> None:
            content: Frame = {
                "modelTurn": {
                    "parts": [
                        {
                            "inlineData": {
                                "mimeType": _OUTPUT_MIME,
                                "data": base64.b64encode(chunk).decode("ascii"),
                            }
                        }
                    ]
                }
            }
            if pending_words:
                content["outputTranscription"] = {"text": "".join(pending_words)}
                pending_words.clear()
            await self._send(link, {"serverContent": content})
            turn.audio_ms += len(chunk) / 2 * 1000 / OUTPUT_RATE

        if answers_in_text(reply, wanted):
            text = reply.text if isinstance(reply, TextReply) else reply.transcript  # type: ignore[union-attr]
            await stream_text(turn.run, text, reply.pace, say_text)  # type: ignore[union-attr]
        else:
            assert isinstance(reply, AudioReply)
            chunks = speech_chunks(reply, OUTPUT_RATE, 2, lambda pcm: pcm)
            await stream_speech(turn.run, chunks, reply.transcript, reply.pace, say=say, play=play)
        if pending_words:  # words due after the last chunk
            turn.tail = "".join(pending_words)

    async def _call_tool(self, link: GeminiLink, turn: ModelTurn, reply: ToolCallReply) -> None:
        session = link.session
        assert session is not None
        declared = {
            declaration.get("name")
            for tool in self._setup_field(link, "tools") or []
            if isinstance(tool, dict)
            for declaration in (
                tool.get("functionDeclarations") or tool.get("function_declarations") or []
            )
            if isinstance(declaration, dict)
        }
        if reply.name not in declared:
            self.undeclared_tool_calls.append(reply.name)
        call_id = reply.call_id or self._new_id("call")
        args = json.loads(reply.arguments_json)
        call = {"id": call_id, "name": reply.name, "args": args if isinstance(args, dict) else {}}
        turn.pending_calls[call_id] = reply
        session.calls[call_id] = reply
        session.turns.append({"role": "model", "parts": [{"functionCall": call}]})
        await self._send(link, {"toolCall": {"functionCalls": [call]}})

    def _continue_after_tools(self, link: GeminiLink, answered: str) -> None:
        """Every call of the open turn has its response: its ``then`` continues the turn."""
        turn = link.turn
        session = link.session
        if turn is None or session is None:
            return
        reply = choose_reply(
            self.script, session.calls, tool_output_call_id=answered, user_text=None
        )
        self._start_turn(link, reply, turn)

    async def _end_turn(self, link: GeminiLink, turn: ModelTurn) -> None:
        """Record what was said, then ``generationComplete`` / ``interrupted`` and
        ``turnComplete`` with the usage, and a new resumption handle."""
        session = link.session
        assert session is not None
        interrupted = turn.run.cancelled
        tail = turn.tail
        said = "".join(turn.said)
        if said:
            session.turns.append({"role": "model", "parts": [{"text": said}]})
        usage = self._usage(link, turn)
        if link.turn is turn:
            link.turn = None
        if interrupted:
            if turn.pending_calls:
                ids = list(turn.pending_calls)
                turn.pending_calls.clear()
                await self._send(link, {"toolCallCancellation": {"ids": ids}})
            await self._send(link, {"serverContent": {"interrupted": True}})
            await self._send(
                link, {"serverContent": {"turnComplete": True}, "usageMetadata": usage}
            )
        elif self.bundle:
            content: Frame = {"generationComplete": True, "turnComplete": True}
            if tail:
                content["outputTranscription"] = {"text": tail}
            await self._send(link, {"serverContent": content, "usageMetadata": usage})
        else:
            await self._send(link, {"serverContent": {"generationComplete": True}})
            await self._send(
                link, {"serverContent": {"turnComplete": True}, "usageMetadata": usage}
            )
        await self._issue_handle(link)

    async def _turn_complete(self, link: GeminiLink, usage: Frame) -> None:
        await self._send(link, {"serverContent": {"turnComplete": True}, "usageMetadata": usage})

    async def _barge_in(self, link: GeminiLink) -> None:
        """Interrupt the model's turn in progress on ``link``, if any, and wait until its
        ``turnComplete`` went out."""
        turn = link.turn
        if turn is None:
            return
        if not turn.run.cancel("turn_detected"):
            return
        task = turn.run.task
        if turn.pending_calls and (task is None or task.done()):
            await self._end_turn(link, turn)  # waiting for tool responses: nothing streams
            return
        if task is not None and task is not asyncio.current_task():
            done, _ = await asyncio.wait({task}, timeout=_CANCEL_TIMEOUT_S)
            if not done:
                task.cancel()

    def _usage(self, link: GeminiLink, turn: ModelTurn) -> Frame:
        session = link.session
        assert session is not None
        history = sum(
            len(str(part.get("text") or ""))
            for content in session.turns
            for part in content.get("parts") or []
            if isinstance(part, dict)
        )
        prompt_text = max(1, history // 4)
        prompt_audio = math.ceil(len(session.input_audio) / 2 / 16000 * 32)
        response_text = math.ceil(len("".join(turn.said)) / 4)
        response_audio = math.ceil(turn.audio_ms / 1000 * 25)
        response_details = [{"modality": "TEXT", "tokenCount": response_text}]
        if response_audio:
            response_details.append({"modality": "AUDIO", "tokenCount": response_audio})
        prompt = prompt_text + prompt_audio
        response = response_text + response_audio
        return {
            "promptTokenCount": prompt,
            "responseTokenCount": response,
            "totalTokenCount": prompt + response,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": prompt_text},
                {"modality": "AUDIO", "tokenCount": prompt_audio},
            ],
            "responseTokensDetails": response_details,
        }

    async def _cancel_link_turn(self, link: GeminiLink) -> None:
        """The link closed: stop its stream without sending anything."""
        turn = link.turn
        if turn is not None and turn.run.task is not None and not turn.run.task.done():
            turn.run.cancel("link_closed")
            turn.run.task.cancel()
            await asyncio.wait({turn.run.task}, timeout=_CANCEL_TIMEOUT_S)


def _instruction_text(instruction: object) -> str:
    """The text of a ``systemInstruction`` Content (empty when there is none)."""
    parts = instruction.get("parts") if isinstance(instruction, dict) else None
    return " ".join(
        str(part["text"])
        for part in parts or []
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )
