"""Session configuration: what an agent asks of a realtime model, in provider-neutral terms.

Every field here reaches the provider: codecs translate all of it, not only instructions, voice and
tools. ``None`` means "leave the provider's default alone".
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from .credential import ClientCredential

AudioEncoding = Literal["pcm16", "pcmu", "pcma"]
Modality = Literal["text", "audio"]
TurnDetectionMode = Literal["server_vad", "semantic_vad", "manual"]
ToolChoice = str
"""``"auto"``, ``"none"``, ``"required"``, or the name of one tool the model must call."""

MIN_SAMPLE_RATE = 8000
"""The lowest rate an :class:`AudioFormat` may have: telephony's, the lowest any provider uses."""
MAX_SAMPLE_RATE = 192000
"""The highest: studio sound cards and files. Each provider accepts narrower ranges (OpenAI
24000 Hz PCM only; the voicewire server 8000-48000) and its codec or decoder says so."""

_MIME_BY_ENCODING: dict[str, AudioEncoding] = {
    "audio/pcm": "pcm16",
    "audio/l16": "pcm16",
    "audio/pcmu": "pcmu",
    "audio/x-mulaw": "pcmu",
    "audio/basic": "pcmu",
    "audio/pcma": "pcma",
    "audio/x-alaw": "pcma",
}


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """One audio stream's format: the seed's ``{mime, rate, bits, channels}``.

    PCM16 is little-endian signed 16-bit; G.711 (``audio/pcmu``, ``audio/pcma``) is 8-bit at 8 kHz.
    ``sample_rate`` is within :data:`MIN_SAMPLE_RATE`..:data:`MAX_SAMPLE_RATE`: whatever slices
    audio into frames of so many milliseconds can count on a frame being at least 80 samples
    (a 50 Hz "rate" made a 10 ms frame 0 bytes long and a framing loop spin for ever).
    """

    mime_type: str = "audio/pcm"
    sample_rate: int = 24000
    bits: int = 16
    channels: int = 1

    def __post_init__(self) -> None:
        if self.mime_type.lower() not in _MIME_BY_ENCODING:
            known = ", ".join(sorted(_MIME_BY_ENCODING))
            raise ValueError(
                f"unsupported audio mime type {self.mime_type!r}; expected one of {known}"
            )
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ValueError(
                f"sample_rate must be positive, from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, "
                f"got {self.sample_rate}"
            )
        if self.channels <= 0:
            raise ValueError(f"channels must be positive, got {self.channels}")
        expected_bits = 16 if self.encoding == "pcm16" else 8
        if self.bits != expected_bits:
            raise ValueError(
                f"{self.mime_type} has {expected_bits}-bit samples, got bits={self.bits}"
            )

    @property
    def encoding(self) -> AudioEncoding:
        return _MIME_BY_ENCODING[self.mime_type.lower()]

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.channels * self.bits // 8

    @classmethod
    def pcm16(cls, sample_rate: int = 24000, channels: int = 1) -> AudioFormat:
        return cls("audio/pcm", sample_rate, 16, channels)

    @classmethod
    def pcmu(cls) -> AudioFormat:
        return cls("audio/pcmu", 8000, 8, 1)

    @classmethod
    def pcma(cls) -> AudioFormat:
        return cls("audio/pcma", 8000, 8, 1)


def _check_finite(name: str, value: float | None) -> None:
    """NaN and the infinities have no JSON spelling: a config holding one could not be sent to a
    provider or shown to a client as valid JSON."""
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    voice_id: str | None = None
    speed: float | None = None

    def __post_init__(self) -> None:
        _check_finite("speed", self.speed)


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """How the end of the user's turn is found.

    ``manual`` means no voice activity detection: the caller commits the input audio buffer (or
    sends activity start/end) and asks for a response itself.
    """

    mode: TurnDetectionMode = "server_vad"
    threshold: float | None = None
    silence_duration_ms: int | None = None
    prefix_padding_ms: int | None = None
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    """semantic_vad only."""

    def __post_init__(self) -> None:
        _check_finite("threshold", self.threshold)


@dataclass(frozen=True, slots=True)
class TranscriptionConfig:
    """Transcription of the user's audio (``transcript.input`` events)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    instructions: str | None = None
    tools: Sequence[ToolDefinition] = ()
    tool_choice: ToolChoice | None = None
    modalities: Sequence[Modality] | None = None
    """Output modalities; ``None`` keeps the provider default (audio with transcript)."""
    voice: VoiceConfig | None = None
    input_audio_format: AudioFormat | None = None
    output_audio_format: AudioFormat | None = None
    turn_detection: TurnDetection | None = None
    transcription: TranscriptionConfig | None = None
    max_output_tokens: int | None = None
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResponseConfig:
    """Per-response overrides for ``response.create``."""

    instructions: str | None = None
    modalities: Sequence[Modality] | None = None
    tool_choice: ToolChoice | None = None
    tools: Sequence[ToolDefinition] | None = None
    max_output_tokens: int | None = None
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ResumeConfig:
    """Continue a previous provider session (a Gemini resumption handle); elsewhere history is
    replayed by the session."""

    handle: str | None = None


class WireSocket(Protocol):
    """The little of a WebSocket that connections use; ``websockets``' client satisfies it."""

    async def send(self, message: str, /) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


WebSocketFactory = Callable[[str, Sequence[str], Mapping[str, str]], Awaitable[WireSocket]]
"""``async (url, subprotocols, headers) -> socket``; the default dials with ``websockets``."""


@dataclass(slots=True)
class ConnectOptions:
    """The seed's ``RealtimeConnectOptions``."""

    session_config: SessionConfig | None = None
    resume: ResumeConfig | None = None
    abort: asyncio.Event | None = None
    """Set it to abort a pending connect; it raises :class:`ConnectAbortedError`."""
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    credential: ClientCredential | None = None
    websocket: WebSocketFactory | None = None

    def initial_session(self) -> SessionConfig | None:
        """The config a model sends first on connect: ``session_config`` with the connect
        options' ``provider_options`` laid over its own (``None`` without a session config)."""
        config = self.session_config
        if config is None or not self.provider_options:
            return config
        merged = {**config.provider_options, **self.provider_options}
        return replace(config, provider_options=merged)
