"""What differs between providers that speak the OpenAI Realtime wire protocol.

OpenAI Realtime GA and xAI Grok Voice Agent share one codec and one connection class; everything
that differs between them is data in a :class:`Dialect`. The xAI values follow
``specs/xai_voice_agent_events.json`` (docs.x.ai plus what public xAI clients observe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .keepalive import VOICE_KEEPALIVE, Keepalive


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    """Provider name, e.g. ``"openai"``."""
    default_base_url: str
    """WebSocket base, e.g. ``wss://api.openai.com/v1``; the connection appends ``/realtime``."""
    rest_base_url: str
    """HTTPS base for REST calls such as client secrets."""
    api_key_env: str
    """Environment variable holding the API key."""
    token_subprotocol_prefix: str
    """Browser-style auth: the credential travels as the subprotocol ``<prefix><token>``."""
    extra_subprotocols: tuple[str, ...]
    """Sent along with the token subprotocol (OpenAI: ``realtime``)."""
    session_type: bool
    """Whether ``session.update`` carries ``session.type = "realtime"`` (OpenAI GA requires it)."""
    voice_placement: Literal["audio.output", "session"]
    """Where ``voice`` lives in the session: ``session.audio.output.voice`` or ``session.voice``."""
    turn_detection_placement: Literal["audio.input", "session"]
    """Where ``turn_detection`` lives: ``session.audio.input.turn_detection`` or the session."""
    text_delta_type: str
    """``response.output_text.delta`` (OpenAI GA) or ``response.text.delta`` (xAI)."""
    text_done_type: str
    unsupported_client_events: frozenset[str]
    """Neutral client event kinds this provider cannot express; they encode to ``None``."""
    session_created_types: tuple[str, ...] = ("session.created",)
    """Server events that open the session (neutral ``session.created``). xAI opens with
    ``conversation.created``; some xAI deployments also send ``session.created``, so both map."""
    server_type_aliases: tuple[tuple[str, str], ...] = ()
    """``(provider type, OpenAI GA type)`` pairs: provider names decoded like the GA event.
    The pseudo type ``"transcript.input.cumulative"`` marks events whose ``transcript`` is the
    whole partial transcript so far (xAI ``...input_audio_transcription.updated``)."""
    pcm_rate_range: tuple[int, int] = (24000, 24000)
    """Accepted ``audio/pcm`` sample rates, inclusive (OpenAI: 24 kHz only; xAI: 8-48 kHz)."""
    client_secret_session: bool = True
    """Whether ``POST /realtime/client_secrets`` takes a ``session`` (and ``expires_after.anchor``);
    xAI accepts only ``expires_after.seconds``."""
    keepalive: Keepalive = VOICE_KEEPALIVE
    """Ping settings for this provider's links (a provider slow to answer pings gets a longer
    ``ping_timeout`` here); a model's ``keepalive=`` overrides it."""


OPENAI = Dialect(
    name="openai",
    default_base_url="wss://api.openai.com/v1",
    rest_base_url="https://api.openai.com/v1",
    api_key_env="OPENAI_API_KEY",
    token_subprotocol_prefix="openai-insecure-api-key.",
    extra_subprotocols=("realtime",),
    session_type=True,
    voice_placement="audio.output",
    turn_detection_placement="audio.input",
    text_delta_type="response.output_text.delta",
    text_done_type="response.output_text.done",
    unsupported_client_events=frozenset({"activity.start", "activity.end"}),
)

XAI = Dialect(
    name="xai",
    default_base_url="wss://api.x.ai/v1",
    rest_base_url="https://api.x.ai/v1",
    api_key_env="XAI_API_KEY",
    token_subprotocol_prefix="xai-client-secret.",
    extra_subprotocols=(),
    session_type=False,
    voice_placement="session",
    turn_detection_placement="session",
    text_delta_type="response.text.delta",
    text_done_type="response.text.done",
    # xAI does not support conversation.item.truncate (nor conversation.item.retrieve and
    # output_audio_buffer.clear, which no neutral event produces). conversation.item.delete is
    # not on that list and xAI answers it with conversation.item.deleted, so item.delete stays.
    unsupported_client_events=frozenset({"activity.start", "activity.end", "item.truncate"}),
    session_created_types=("conversation.created", "session.created"),
    server_type_aliases=(
        # Spellings public xAI clients handle besides the documented ones (GA text names, beta
        # audio names); a server sends one spelling, so accepting both cannot double-report.
        ("response.output_text.delta", "response.output_text.delta"),
        ("response.output_text.done", "response.output_text.done"),
        ("response.audio.delta", "response.output_audio.delta"),
        ("response.audio.done", "response.output_audio.done"),
        ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
        ("response.audio_transcript.done", "response.output_audio_transcript.done"),
        ("conversation.item.input_audio_transcription.updated", "transcript.input.cumulative"),
    ),
    pcm_rate_range=(8000, 48000),
    client_secret_session=False,
)
