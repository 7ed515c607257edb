"""The fake server's responses: which reply, and its events on the wire, paced and cancellable."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from websockets.exceptions import ConnectionClosed

from .. import tones
from ..responder import (
    ResponseRun,
    answers_in_text,
    choose_reply,
    speech_chunks,
    stream_speech,
    stream_text,
)
from ..script import AudioReply, Reply, TextReply, ToolCallReply
from .base import CANCEL_TIMEOUT_S, Event, FakeBase, FakeConnection, ResponseStream, audio_part

__all__ = ["ResponseHandlers"]

_logger = logging.getLogger("voicewire.testing.fake_server")


class ResponseHandlers(FakeBase):
    """``response.create`` / ``response.cancel`` and the responses' wire events."""

    async def _on_response_create(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        if conn.response is not None:
            await self._error(
                conn,
                "Conversation already has an active response in progress: "
                f"{conn.response.id}. Wait until the response is finished before creating "
                "a new one.",
                code="conversation_already_has_active_response",
                event_id=event_id,
            )
            return
        options = event.get("response")
        self._start_response(conn, options if isinstance(options, dict) else {})

    async def _on_response_cancel(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        resp = conn.response
        wanted = event.get("response_id")
        if resp is None or (wanted is not None and wanted != resp.id):
            await self._error(
                conn,
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
                event_id=event_id,
            )
            return
        await self._cancel_response(conn, "client_cancelled")

    def _choose_reply(self, conn: FakeConnection, options: Mapping[str, Any]) -> Reply:
        given = options.get("input")
        items = (
            [i for i in given if isinstance(i, dict)]
            if isinstance(given, list)
            else conn.items.values()
        )
        last = items[-1] if items else None
        answered = last is not None and last.get("type") == "function_call_output"
        return choose_reply(
            self.script,
            conn.calls,
            tool_output_call_id=str(last.get("call_id")) if answered and last else None,
            user_text=None if answered else _latest_user_text(items, conn.heard),
        )

    def _start_response(self, conn: FakeConnection, options: Mapping[str, Any]) -> None:
        reply = self._choose_reply(conn, options)
        resp = ResponseRun(self._new_id("resp"))
        conn.response = resp
        resp.task = asyncio.create_task(self._run_response(conn, resp, reply, options))
        self._tasks.add(resp.task)
        resp.task.add_done_callback(self._tasks.discard)

    async def _cancel_response(self, conn: FakeConnection, reason: str) -> None:
        resp = conn.response
        if resp is None or not resp.cancel(reason):
            return
        task = resp.task
        if task is not None and task is not asyncio.current_task():
            done, _ = await asyncio.wait({task}, timeout=CANCEL_TIMEOUT_S)
            if not done:
                task.cancel()

    async def _run_response(
        self, conn: FakeConnection, resp: ResponseRun, reply: Reply, options: Mapping[str, Any]
    ) -> None:
        try:
            await self._respond(conn, resp, reply, options)
        except ConnectionClosed:
            pass
        except Exception:
            _logger.exception("fake realtime server failed while responding")
        finally:
            if conn.response is resp:
                conn.response = None

    async def _respond(
        self, conn: FakeConnection, resp: ResponseRun, reply: Reply, options: Mapping[str, Any]
    ) -> None:
        session = conn.session
        run = ResponseStream(
            conn=conn, resp=resp, out_of_band=options.get("conversation") == "none"
        )
        modalities = options.get("output_modalities") or session.get("output_modalities")
        text_mode = answers_in_text(reply, modalities)
        session_output = audio_part(session, "output")
        option_audio = options.get("audio")
        option_output = option_audio.get("output") if isinstance(option_audio, dict) else None
        option_output = option_output if isinstance(option_output, dict) else {}
        fmt = option_output.get("format") or session_output.get("format")
        voice = option_output.get("voice") or session_output.get("voice")
        if isinstance(voice, dict):  # a custom voice {"id": ...}; responses carry its id
            voice = voice.get("id")
        response: dict[str, Any] = {
            "id": resp.id,
            "object": "realtime.response",
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": None if run.out_of_band else conn.conversation_id,
            "output_modalities": ["text"] if text_mode else ["audio"],
            "max_output_tokens": options.get("max_output_tokens")
            or session.get("max_output_tokens", "inf"),
            "audio": {"output": {"format": fmt, "voice": voice}},
            "usage": None,
            "metadata": options.get("metadata"),
        }
        await self._send(conn, {"type": "response.created", "response": response})
        if isinstance(reply, ToolCallReply):
            item = await self._emit_tool_call(run, reply, options)
        elif text_mode:
            text = reply.text if isinstance(reply, TextReply) else reply.transcript
            item = await self._emit_text(run, text, reply.pace)
        else:
            assert isinstance(reply, AudioReply)
            item = await self._emit_audio(run, reply, fmt)
        conn.response = None
        response["status"] = "cancelled" if run.cancelled else "completed"
        if run.cancelled:
            response["status_details"] = {"type": "cancelled", "reason": resp.reason}
        response["output"] = [item]
        response["usage"] = self._usage(conn, item, session)
        await self._send(conn, {"type": "response.done", "response": response})

    async def _open_item(self, run: ResponseStream, item: dict[str, Any]) -> str | None:
        """Send output_item.added and (in-band) add the item to the conversation."""
        conn = run.conn
        await self._send(
            conn,
            {
                "type": "response.output_item.added",
                "response_id": run.resp.id,
                "output_index": 0,
                "item": item,
            },
        )
        if run.out_of_band:
            return None
        previous_id = conn.items.append(item["id"], item)
        await self._item_added(conn, item, previous_id)
        return previous_id

    async def _close_item(
        self, run: ResponseStream, item: dict[str, Any], previous_id: str | None
    ) -> None:
        item["status"] = "incomplete" if run.cancelled else "completed"
        await self._send(
            run.conn,
            {
                "type": "response.output_item.done",
                "response_id": run.resp.id,
                "output_index": 0,
                "item": item,
            },
        )
        if not run.out_of_band:
            await self._item_done(run.conn, item, previous_id)

    async def _start_message(
        self, run: ResponseStream, part: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
        """Open an assistant message item and its first content part, as the API does."""
        item_id = self._new_id("item")
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        previous_id = await self._open_item(run, item)
        ids = {"response_id": run.resp.id, "item_id": item_id, "output_index": 0}
        await self._send(
            run.conn,
            {"type": "response.content_part.added", **ids, "content_index": 0, "part": part},
        )
        return item, previous_id, ids

    async def _emit_audio(
        self, run: ResponseStream, reply: AudioReply, fmt: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        conn = run.conn
        item, previous_id, ids = await self._start_message(run, {"type": "audio", "transcript": ""})
        item_id = item["id"]
        rate = tones.format_rate(fmt)
        width = tones.bytes_per_sample(fmt)
        chunks = speech_chunks(reply, rate, width, lambda pcm: tones.encode_audio(pcm, fmt))
        conn.audio_sent_ms[item_id] = 0.0

        async def say(word: str) -> None:
            delta = {"type": "response.output_audio_transcript.delta", **ids, "content_index": 0}
            await self._send(conn, {**delta, "delta": word})

        async def play(chunk: bytes) -> None:
            audio = base64.b64encode(chunk).decode("ascii")
            delta = {"type": "response.output_audio.delta", **ids, "content_index": 0}
            await self._send(conn, {**delta, "delta": audio})
            conn.audio_sent_ms[item_id] += len(chunk) / width * 1000 / rate

        transcript = await stream_speech(
            run.resp, chunks, reply.transcript, reply.pace, say=say, play=play
        )
        await self._send(conn, {"type": "response.output_audio.done", **ids, "content_index": 0})
        await self._send(
            conn,
            {
                "type": "response.output_audio_transcript.done",
                **ids,
                "content_index": 0,
                "transcript": transcript,
            },
        )
        await self._send(
            conn,
            {
                "type": "response.content_part.done",
                **ids,
                "content_index": 0,
                "part": {"type": "audio", "transcript": transcript},
            },
        )
        item["content"] = [{"type": "output_audio", "transcript": transcript}]
        await self._close_item(run, item, previous_id)
        return item

    async def _emit_text(self, run: ResponseStream, text: str, pace: float) -> dict[str, Any]:
        conn = run.conn
        item, previous_id, ids = await self._start_message(run, {"type": "text", "text": ""})

        async def say(word: str) -> None:
            delta = {"type": self.dialect.text_delta_type, **ids, "content_index": 0}
            await self._send(conn, {**delta, "delta": word})

        full = await stream_text(run.resp, text, pace, say)
        await self._send(
            conn, {"type": self.dialect.text_done_type, **ids, "content_index": 0, "text": full}
        )
        await self._send(
            conn,
            {
                "type": "response.content_part.done",
                **ids,
                "content_index": 0,
                "part": {"type": "text", "text": full},
            },
        )
        item["content"] = [{"type": "output_text", "text": full}]
        await self._close_item(run, item, previous_id)
        return item

    async def _emit_tool_call(
        self, run: ResponseStream, reply: ToolCallReply, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        conn = run.conn
        declared = {
            tool.get("name")
            for tools in (conn.session.get("tools"), options.get("tools"))
            if isinstance(tools, list)
            for tool in tools
            if isinstance(tool, dict)
        }
        if reply.name not in declared:
            self.undeclared_tool_calls.append(reply.name)
        call_id = reply.call_id or self._new_id("call")
        arguments = reply.arguments_json
        item_id = self._new_id("item")
        item: dict[str, Any] = {
            "id": item_id,
            "type": "function_call",
            "object": "realtime.item",
            "status": "in_progress",
            "name": reply.name,
            "call_id": call_id,
            "arguments": "",
        }
        previous_id = await self._open_item(run, item)
        ids = {"response_id": run.resp.id, "item_id": item_id, "output_index": 0}
        step = max(1, math.ceil(len(arguments) / 3))
        if not self._xai:
            for start in range(0, len(arguments), step):
                if run.cancelled:
                    break
                await self._send(
                    conn,
                    {
                        "type": "response.function_call_arguments.delta",
                        **ids,
                        "call_id": call_id,
                        "delta": arguments[start : start + step],
                    },
                )
                await run.resp.pause(0.0)
        if not run.cancelled:
            await self._send(
                conn,
                {
                    "type": "response.function_call_arguments.done",
                    **ids,
                    "call_id": call_id,
                    "name": reply.name,
                    "arguments": arguments,
                },
            )
            item["arguments"] = arguments
            conn.calls[call_id] = reply
        await self._close_item(run, item, previous_id)
        return item

    def _usage(
        self, conn: FakeConnection, item: Mapping[str, Any], session: Mapping[str, Any]
    ) -> dict[str, Any]:
        history_chars = len(str(session.get("instructions") or ""))
        for stored in conn.items:
            for part in stored.get("content") or []:
                if isinstance(part, dict):
                    history_chars += len(str(part.get("text") or part.get("transcript") or ""))
            history_chars += len(str(stored.get("arguments") or stored.get("output") or ""))
        input_text = max(1, history_chars // 4)
        input_audio = math.ceil(conn.user_audio_ms / 100)
        output_audio = math.ceil(conn.audio_sent_ms.get(str(item.get("id")), 0.0) / 50)
        produced = "".join(
            str(part.get("text") or part.get("transcript") or "")
            for part in item.get("content") or []
            if isinstance(part, dict)
        ) + str(item.get("arguments") or "")
        output_text = math.ceil(len(produced) / 4)
        return {
            "total_tokens": input_text + input_audio + output_text + output_audio,
            "input_tokens": input_text + input_audio,
            "output_tokens": output_text + output_audio,
            "input_token_details": {
                "text_tokens": input_text,
                "audio_tokens": input_audio,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }


def _latest_user_text(items: Sequence[Mapping[str, Any]], heard: Mapping[str, str]) -> str | None:
    for item in reversed(items):
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        texts = [
            str(part.get("text"))
            for part in item.get("content") or []
            if isinstance(part, dict) and part.get("type") == "input_text" and part.get("text")
        ]
        if texts:
            return " ".join(texts)
        spoken = heard.get(str(item.get("id")))
        if spoken is not None:
            return spoken
    return None
