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
"""How samples are stored: 16-bit linear PCM, or 8-bit G.711 mu-law (``pcmu``) or A-law."""
Modality = Literal["text", "audio"]
"""A kind of output: ``audio`` (speech, with its transcript) or ``text``."""
TurnDetectionMode = Literal["server_vad", "semantic_vad", "manual"]
"""``server_vad``: the model ends the user's turn after a silence; ``semantic_vad``: when the
words sound finished; ``manual``: the caller ends it."""
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
    """The encoding as a MIME type: ``audio/pcm`` (or ``audio/l16``), ``audio/pcmu``,
    ``audio/pcma`` and their common aliases; compared case-insensitively."""
    sample_rate: int = 24000
    """Samples per second per channel, in Hz."""
    bits: int = 16
    """Bits per sample: 16 for PCM, 8 for G.711."""
    channels: int = 1
    """Interleaved channels; 1 on every provider's wire."""

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
        """The sample encoding the MIME type names."""
        return _MIME_BY_ENCODING[self.mime_type.lower()]

    @property
    def bytes_per_second(self) -> int:
        """Bytes of audio per second of sound: what converts a byte count to milliseconds."""
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
    """The assistant's voice."""

    voice_id: str | None = None
    """The provider's name of the voice (e.g. OpenAI's ``"marin"``); ``None``: its default."""
    speed: float | None = None
    """Speaking rate as a factor of the voice's normal rate (1.0 normal, 1.2 a fifth faster);
    each provider has its own range (OpenAI 0.25 to 1.5). ``None``: the provider's default."""

    def __post_init__(self) -> None:
        _check_finite("speed", self.speed)


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """How the end of the user's turn is found.

    ``manual`` means no voice activity detection: the caller commits the input audio buffer (or
    sends activity start/end) and asks for a response itself.
    """

    mode: TurnDetectionMode = "server_vad"
    """Who ends the user's turn, and how."""
    threshold: float | None = None
    """Voice activity threshold from 0.0 to 1.0: the higher, the louder speech must be to
    count (``server_vad`` only; ``None``: the provider's default)."""
    silence_duration_ms: int | None = None
    """Milliseconds of silence after speech that end the turn (``server_vad``)."""
    prefix_padding_ms: int | None = None
    """Milliseconds of audio before the detected start of speech that the user's item keeps,
    so that the first syllable is not clipped (``server_vad``)."""
    create_response: bool = True
    """The model answers by itself when a turn ends; otherwise the caller sends
    ``response.create``."""
    interrupt_response: bool = True
    """The user speaking cuts off the assistant's response (a barge-in): the model cancels it
    and the session stops playback and truncates what was not heard."""
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    """semantic_vad only: how soon the model takes a pause as the end of the turn (``low``
    waits longest)."""

    def __post_init__(self) -> None:
        _check_finite("threshold", self.threshold)


@dataclass(frozen=True, slots=True)
class TranscriptionConfig:
    """Transcription of the user's audio (``transcript.input`` events)."""

    model: str | None = None
    """The provider's transcription model (e.g. ``"gpt-4o-transcribe"``); ``None``: its
    default."""
    language: str | None = None
    """The language spoken, as an ISO-639-1 code (``"en"``), which helps accuracy and speed."""
    prompt: str | None = None
    """Text that guides the transcription: expected words, names, spelling."""


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    """The name the model calls it by (``tool.call`` carries it)."""
    description: str
    """What it does and when to use it, written for the model."""
    parameters: Mapping[str, Any]
    """A JSON schema of type ``object`` describing the arguments."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What a session asks of the model: sent on connect and with every ``session.update``."""

    instructions: str | None = None
    """The system prompt: who the assistant is and how it behaves."""
    tools: Sequence[ToolDefinition] = ()
    """The tools the model may call."""
    tool_choice: ToolChoice | None = None
    """Whether the model must, may or must not call tools (see :data:`ToolChoice`)."""
    modalities: Sequence[Modality] | None = None
    """Output modalities; ``None`` keeps the provider default (audio with transcript)."""
    voice: VoiceConfig | None = None
    """The assistant's voice and speaking rate."""
    input_audio_format: AudioFormat | None = None
    """The format of the audio the session appends (``audio.input.append``)."""
    output_audio_format: AudioFormat | None = None
    """The format of the audio the model speaks (``audio.output.delta``)."""
    turn_detection: TurnDetection | None = None
    """How the end of the user's turn is found."""
    transcription: TranscriptionConfig | None = None
    """Transcribe the user's audio; ``None`` keeps the provider's default (off on OpenAI; the
    local model always transcribes, since it answers from the transcript)."""
    max_output_tokens: int | None = None
    """The most tokens one response may produce; ``None``: the provider's limit."""
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    """Provider-specific settings, merged last into what the codec sends (so they win);
    a key the provider does not know may be refused by it."""


@dataclass(frozen=True, slots=True)
class ResponseConfig:
    """Per-response overrides for ``response.create``."""

    instructions: str | None = None
    """The system prompt for this response only."""
    modalities: Sequence[Modality] | None = None
    """Output modalities for this response only."""
    tool_choice: ToolChoice | None = None
    """Tool choice for this response only."""
    tools: Sequence[ToolDefinition] | None = None
    """The tools this response may call, instead of the session's."""
    max_output_tokens: int | None = None
    """The most tokens this response may produce."""
    metadata: Mapping[str, str] | None = None
    """Labels the provider attaches to the response, for the caller's own bookkeeping."""


@dataclass(frozen=True, slots=True)
class ResumeConfig:
    """Continue a previous provider session (a Gemini resumption handle); elsewhere history is
    replayed by the session."""

    handle: str | None = None
    """The provider's resumption handle from the previous session; ``None``: replay history."""


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
    """The configuration sent as the session opens; ``None``: the provider's defaults."""
    resume: ResumeConfig | None = None
    """Continue a previous provider session instead of starting afresh."""
    abort: asyncio.Event | None = None
    """Set it to abort a pending connect; it raises :class:`ConnectAbortedError`."""
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    """Provider-specific settings for this connection, laid over the session config's own
    (see :meth:`initial_session`)."""
    credential: ClientCredential | None = None
    """An ephemeral credential from ``model.authenticate()``, used instead of the API key."""
    websocket: WebSocketFactory | None = None
    """How to open the WebSocket; ``None``: the ``websockets`` client."""

    def initial_session(self) -> SessionConfig | None:
        """The config a model sends first on connect: ``session_config`` with the connect
        options' ``provider_options`` laid over its own (``None`` without a session config)."""
        config = self.session_config
        if config is None or not self.provider_options:
            return config
        merged = {**config.provider_options, **self.provider_options}
        return replace(config, provider_options=merged)
