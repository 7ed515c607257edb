"""What a client's ``session.update`` may change, and the session as the client is shown it.

The session is the agent plus the client's overrides: the agent's tools run on the server and are
never shown nor replaced, its instructions may be private (the client sees only the instructions
it set itself), and a client may change only the fields the app allows
(:data:`CLIENT_SESSION_FIELDS` by default). A model that cannot change its audio formats live is
not asked to when the client states the formats the session already uses (a browser does on every
connect).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace
from typing import Any, Final

from voicewire.protocol import SessionConfig, VoiceConfig
from voicewire.session import RealtimeSession

__all__ = ["CLIENT_SESSION_FIELDS", "client_changes", "client_view"]

log = logging.getLogger("voicewire.server")

CLIENT_SESSION_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "instructions",
        "modalities",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "turn_detection",
        "transcription",
        "tool_choice",
        "max_output_tokens",
    }
)
"""Session settings a client's ``session.update`` may change (tools never: they are the
agent's, and run on the server)."""

_TOOL_CHOICE_MODES: Final = frozenset({"auto", "none", "required"})


def client_changes(
    config: SessionConfig, session: RealtimeSession, allowed: Collection[str], label: str
) -> dict[str, Any]:
    """The changes a client's ``session.update`` (decoded as ``config``) asks of ``session``:
    the fields it set that it may change (``allowed``); a voice keeps the speed (or id) it does
    not name; formats already in use are left out when the model cannot change them live."""
    current = session.config
    changes: dict[str, Any] = {}
    for name in sorted(CLIENT_SESSION_FIELDS):
        value = getattr(config, name)
        if value is None:
            continue
        if name not in allowed:
            log.debug("%s: the client may not change %s; ignored", label, name)
            continue
        changes[name] = value
    voice = changes.get("voice")
    if isinstance(voice, VoiceConfig) and current.voice is not None:
        changes["voice"] = VoiceConfig(
            voice.voice_id or current.voice.voice_id,
            current.voice.speed if voice.speed is None else voice.speed,
        )
    if config.tools:
        log.info(
            "%s: ignored %d tool(s) declared by the client: the agent's tools run on the server",
            label,
            len(config.tools),
        )
    if not session.capabilities.live_audio_formats:
        for name, in_use in (
            ("input_audio_format", session.input_format),
            ("output_audio_format", session.output_format),
        ):
            if changes.get(name) == in_use:
                del changes[name]
    return changes


def client_view(config: SessionConfig, client_instructions: str | None) -> SessionConfig:
    """The session ``config`` as the client is shown it: no server tools, and instructions only
    if the client set them (``client_instructions``: the agent's may be private)."""
    choice = config.tool_choice if config.tool_choice in _TOOL_CHOICE_MODES else None
    return replace(
        config,
        tools=(),
        tool_choice=choice,
        instructions=client_instructions,
        provider_options={},
    )
