"""ElevenLabs Agents (the Agents Platform, formerly Conversational AI) as a realtime model.

::

    from voicewire.providers import elevenlabs

    model = elevenlabs.realtime("agent_...")  # $ELEVENLABS_API_KEY for a private agent

The agent (its LLM, tools, voice, turn-taking and audio formats) is configured at ElevenLabs; a
voicewire session runs its tools by name when the agent calls them, and may override the prompt,
first message, language and voice where the agent allows it (see :mod:`.initiation`). The wire:
:mod:`.codec` (sans-I/O, with :mod:`.turns` and :mod:`.audio_formats`); the model: :mod:`.model`.
"""

from __future__ import annotations

import httpx

from ..keepalive import Keepalive
from .codec import IGNORED_SERVER_TYPES, ElevenLabsCodec
from .initiation import PROVIDER_OPTIONS
from .model import (
    API_KEY_ENV,
    CAPABILITIES,
    DEFAULT_BASE_URL,
    SIGNED_URL_TTL,
    ElevenLabsRealtimeModel,
)

__all__ = [
    "API_KEY_ENV",
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "IGNORED_SERVER_TYPES",
    "PROVIDER_OPTIONS",
    "SIGNED_URL_TTL",
    "ElevenLabsCodec",
    "ElevenLabsRealtimeModel",
    "realtime",
]


def realtime(
    agent_id: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    http_client: httpx.AsyncClient | None = None,
    keepalive: Keepalive | None = None,
) -> ElevenLabsRealtimeModel:
    """The ElevenLabs agent ``agent_id`` as a realtime model.

    ``api_key`` (default ``$ELEVENLABS_API_KEY``) is needed for private agents only: with it,
    each connect fetches a signed URL first. ``base_url``: the WebSocket base (default
    ``wss://api.elevenlabs.io``; REST goes to the same host over HTTPS). ``http_client``: for the
    signed-URL request. ``keepalive``: how soon a dead link is noticed."""
    return ElevenLabsRealtimeModel(
        agent_id, api_key=api_key, base_url=base_url, http_client=http_client, keepalive=keepalive
    )
