"""What differs on the wire between providers that speak the OpenAI Realtime protocol.

OpenAI Realtime GA and xAI Grok Voice Agent share one codec and one connection class; everything
that differs in what they send and accept (event names, where session fields go, capabilities,
audio formats) is data in a :class:`Dialect`. How a client reaches them (URLs, API key, auth
subprotocols, pings) is not the wire: it is
:class:`voicewire.providers.openai_protocol.endpoint.Endpoint`, so this package imports no
provider. The xAI values follow ``specs/xai_voice_agent_events.json`` (docs.x.ai plus what public
xAI clients observe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voicewire.protocol.capabilities import RealtimeCapabilities, telephony_and_pcm


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    """Provider name, e.g. ``"openai"``."""
    session_type: bool
    """Whether ``session.update`` carries ``session.type = "realtime"`` (OpenAI GA requires it)."""
    voice_placement: Literal["audio.output", "session"]
    """Where ``voice`` lives in the session: ``session.audio.output.voice`` or ``session.voice``."""
    turn_detection_placement: Literal["audio.input", "session"]
    """Where ``turn_detection`` lives: ``session.audio.input.turn_detection`` or the session."""
    text_delta_type: str
    """``response.output_text.delta`` (OpenAI GA) or ``response.text.delta`` (xAI)."""
    text_done_type: str
    capabilities: RealtimeCapabilities
    """What the provider can take: the model's ``capabilities``, and the source of
    :attr:`unsupported_client_events` and :attr:`pcm_rate_range`."""
    session_created_types: tuple[str, ...] = ("session.created",)
    """Server events that open the session (neutral ``session.created``). xAI opens with
    ``conversation.created``; some xAI deployments also send ``session.created``, so both map."""
    server_type_aliases: tuple[tuple[str, str], ...] = ()
    """``(provider type, OpenAI GA type)`` pairs: provider names decoded like the GA event.
    The pseudo type ``"transcript.input.cumulative"`` marks events whose ``transcript`` is the
    whole partial transcript so far (xAI ``...input_audio_transcription.updated``)."""

    @property
    def unsupported_client_events(self) -> frozenset[str]:
        """Neutral client event kinds this provider cannot express; they encode to ``None``."""
        return self.capabilities.unsupported_client_events()

    @property
    def pcm_rate_range(self) -> tuple[int, int]:
        """Accepted ``audio/pcm`` sample rates, inclusive, input and output alike (OpenAI: 24 kHz
        only; xAI: 8-48 kHz)."""
        pcm = next(r for r in self.capabilities.input_audio if r.encoding == "pcm16")
        return pcm.min_rate, pcm.max_rate


OPENAI = Dialect(
    name="openai",
    session_type=True,
    voice_placement="audio.output",
    turn_detection_placement="audio.input",
    text_delta_type="response.output_text.delta",
    text_done_type="response.output_text.done",
    capabilities=RealtimeCapabilities(
        activity_signals=False,  # no such GA client event: manual turns commit instead
        default_turn_detection="server_vad",
        live_voice="before_audio",  # "cannot_update_voice" once assistant audio is present
        input_audio=telephony_and_pcm(24000, 24000),
        output_audio=telephony_and_pcm(24000, 24000),
    ),
)

XAI = Dialect(
    name="xai",
    session_type=False,
    voice_placement="session",
    turn_detection_placement="session",
    text_delta_type="response.text.delta",
    text_done_type="response.text.done",
    # xAI does not support conversation.item.truncate (nor conversation.item.retrieve and
    # output_audio_buffer.clear, which no neutral event produces). conversation.item.delete is
    # not on that list and xAI answers it with conversation.item.deleted, so item.delete stays.
    # Its turn detection is server_vad or none (manual); there is no semantic_vad.
    capabilities=RealtimeCapabilities(
        item_truncate=False,
        activity_signals=False,
        semantic_vad=False,
        default_turn_detection="server_vad",
        input_audio=telephony_and_pcm(8000, 48000),
        output_audio=telephony_and_pcm(8000, 48000),
    ),
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
)
