"""The fake server's input audio: the buffer, the energy VAD, commits and their transcription."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

from .. import tones
from ..energy_vad import (
    DEFAULT_PREFIX_PADDING_MS,
    DEFAULT_SILENCE_MS,
    SpeechStart,
    VadSettings,
)
from ..responder import WORDS
from .base import Event, FakeConnection, audio_part
from .responses import ResponseHandlers

__all__ = ["InputHandlers"]

_MIN_COMMIT_MS = 100.0


class InputHandlers(ResponseHandlers):
    """``input_audio_buffer.*`` and the server VAD.

    It builds on the response handlers because speech that starts cancels the response in
    progress (``interrupt_response``) and a turn that ends starts one (``create_response``).
    """

    async def _on_audio_append(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        audio = event.get("audio")
        try:
            if not isinstance(audio, str):
                raise ValueError("not a string")
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            self.violations.append("input_audio_buffer.append: 'audio' is not valid base64")
            await self._error(
                conn,
                "Invalid 'audio'. Expected base64-encoded audio bytes.",
                code="invalid_value",
                param="audio",
                event_id=event_id,
            )
            return
        self.input_audio.extend(data)
        audio_input = audio_part(conn.session, "input")
        fmt = audio_input.get("format")
        rate = tones.format_rate(fmt)
        vad = audio_input.get("turn_detection")
        settings = _vad_settings(vad) if isinstance(vad, dict) else None
        pcm16 = tones.decode_audio(data, fmt)
        for heard in conn.vad.feed(pcm16, rate, self.vad_rms_threshold, settings):
            assert isinstance(vad, dict)  # settings is None without it, and nothing is heard
            if isinstance(heard, SpeechStart):
                await self._speech_started(conn, vad, heard.audio_start_ms)
            else:
                await self._speech_stopped(conn, vad, heard.audio_end_ms)

    async def _speech_started(
        self, conn: FakeConnection, vad: dict[str, Any], audio_start_ms: int
    ) -> None:
        conn.vad.speech_item_id = item_id = self._new_id("item")
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": item_id,
            },
        )
        if conn.response is not None and vad.get("interrupt_response", True) is not False:
            await self._cancel_response(conn, "turn_detected")

    async def _speech_stopped(
        self, conn: FakeConnection, vad: dict[str, Any], audio_end_ms: int
    ) -> None:
        item_id = conn.vad.speech_item_id or self._new_id("item")
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            },
        )
        await self._commit(conn, item_id)
        if vad.get("create_response", True) is not False and conn.response is None:
            self._start_response(conn, {})

    async def _commit(self, conn: FakeConnection, item_id: str | None) -> None:
        item_id = item_id or conn.vad.speech_item_id or self._new_id("item")
        conn.user_audio_ms += conn.vad.commit()
        previous_id = conn.items.last_id()
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": None if self._xai else previous_id,
                "item_id": item_id,
            },
        )
        part: dict[str, Any] = {"type": "input_audio", "transcript": None}
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [part],
        }
        conn.items.append(item_id, item)
        heard = self.script.next_transcript()
        conn.heard[item_id] = heard
        await self._item_added(conn, item, previous_id)
        await self._item_done(conn, item, previous_id)
        transcribe = self._xai or audio_part(conn.session, "input").get("transcription")
        if not transcribe:
            return
        if not self._xai:
            for word in WORDS.findall(heard):
                await self._send(
                    conn,
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item_id,
                        "content_index": 0,
                        "delta": word,
                    },
                )
        part["transcript"] = heard
        audio_tokens = max(1, math.ceil(conn.user_audio_ms / 100))
        text_tokens = len(WORDS.findall(heard))
        await self._send(
            conn,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": heard,
                "usage": {
                    "type": "tokens",
                    "input_tokens": audio_tokens,
                    "output_tokens": text_tokens,
                    "total_tokens": audio_tokens + text_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                },
            },
        )

    async def _on_audio_commit(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        pending_ms = conn.vad.pending_ms
        if pending_ms < _MIN_COMMIT_MS:
            await self._error(
                conn,
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{_MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {pending_ms:.2f}ms "
                "of audio.",
                code="input_audio_buffer_commit_empty",
                event_id=event_id,
            )
            return
        await self._commit(conn, None)

    async def _on_audio_clear(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        conn.vad.clear()
        await self._send(conn, {"type": "input_audio_buffer.cleared"})

    async def _on_output_audio_clear(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        await self._error(
            conn,
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
            event_id=event_id,
        )


def _vad_settings(vad: Mapping[str, Any]) -> VadSettings:
    """What the energy detector reads of a wire ``turn_detection`` (defaults where absent)."""
    silence = vad.get("silence_duration_ms")
    padding = vad.get("prefix_padding_ms")
    return VadSettings(
        silence_duration_ms=silence if isinstance(silence, int) else DEFAULT_SILENCE_MS,
        prefix_padding_ms=padding if isinstance(padding, int) else DEFAULT_PREFIX_PADDING_MS,
    )
