"""The fake server's session: its defaults, how updates merge, and how each dialect shows it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .. import tones
from ..energy_vad import DEFAULT_PREFIX_PADDING_MS, DEFAULT_SILENCE_MS
from .base import Event, FakeBase, FakeConnection

__all__ = ["SessionHandlers"]


class SessionHandlers(FakeBase):
    """``session.update`` and the session JSON as each dialect shows it."""

    def _default_session(self, model: str) -> dict[str, Any]:
        return {
            "type": "realtime",
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "You are a helpful assistant (voicewire fake realtime server).",
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": tones.DEFAULT_RATE},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": _turn_detection_defaults({"type": "server_vad"}),
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": tones.DEFAULT_RATE},
                    "voice": "ara" if self._xai else "marin",
                    "speed": 1.0,
                },
            },
        }

    def _render_session(self, conn: FakeConnection) -> dict[str, Any]:
        session = copy.deepcopy(conn.session)
        if not self.dialect.session_type:
            session.pop("type", None)
        if self._xai:
            for key in ("tracing", "prompt", "include", "truncation"):
                session.pop(key, None)
        audio = session.get("audio")
        if isinstance(audio, dict):
            output = audio.get("output")
            voice_here = self.dialect.voice_placement == "session"
            if voice_here and isinstance(output, dict) and "voice" in output:
                session["voice"] = output.pop("voice")
            input_ = audio.get("input")
            vad_here = self.dialect.turn_detection_placement == "session"
            if vad_here and isinstance(input_, dict) and "turn_detection" in input_:
                session["turn_detection"] = input_.pop("turn_detection")
        return session

    async def _on_session_update(
        self, conn: FakeConnection, event: Event, event_id: str | None
    ) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            await self._error(
                conn, "Invalid type for 'session'.", code="invalid_type", param="session"
            )
            return
        if not self._xai:
            kind = update.get("type")
            if kind is None:
                await self._error(
                    conn,
                    "Missing required parameter: 'session.type'.",
                    code="missing_required_parameter",
                    param="session.type",
                    event_id=event_id,
                )
                return
            if kind != "realtime":
                await self._error(
                    conn,
                    f"The fake server only serves realtime sessions, not {kind!r}.",
                    code="invalid_value",
                    param="session.type",
                    event_id=event_id,
                )
                return
        _merge_session(conn.session, update)
        await self._send(conn, {"type": "session.updated", "session": self._render_session(conn)})


def _turn_detection_defaults(vad: dict[str, Any]) -> dict[str, Any]:
    if vad.get("type") == "server_vad":
        vad.setdefault("threshold", 0.5)
        vad.setdefault("prefix_padding_ms", DEFAULT_PREFIX_PADDING_MS)
        vad.setdefault("silence_duration_ms", DEFAULT_SILENCE_MS)
        vad.setdefault("idle_timeout_ms", None)
    elif vad.get("type") == "semantic_vad":
        vad.setdefault("eagerness", "auto")
    vad.setdefault("create_response", True)
    vad.setdefault("interrupt_response", True)
    return vad


def _merge_session(state: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge a session update: ``audio.input`` / ``audio.output`` key by key, the rest replaced."""
    for key, value in update.items():
        if key != "audio" or not isinstance(value, dict):
            state[key] = copy.deepcopy(value)
            continue
        audio = state.get("audio")
        if not isinstance(audio, dict):
            audio = state["audio"] = {}
        for direction, part in value.items():
            target = audio.get(direction)
            if isinstance(part, dict) and isinstance(target, dict):
                target.update(copy.deepcopy(part))
            else:
                audio[direction] = copy.deepcopy(part)
    audio = state.get("audio")
    if isinstance(audio, dict):
        for direction in ("input", "output"):
            part = audio.get(direction)
            if not isinstance(part, dict):
                continue
            fmt = part.get("format")
            if isinstance(fmt, dict) and fmt.get("type", "audio/pcm") == "audio/pcm":
                fmt.setdefault("rate", tones.DEFAULT_RATE)
            vad = part.get("turn_detection")
            if isinstance(vad, dict):
                _turn_detection_defaults(vad)
