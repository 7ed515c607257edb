"""What a realtime model can take, declared as data (``RealtimeModel.capabilities``).

A provider that cannot express a client event (xAI has no ``conversation.item.truncate``) or
cannot change a setting once the session runs (OpenAI keeps the voice once it has spoken) says so
here, instead of dropping the event or answering with an error later. The session reads these
values and never sends what the model cannot take; a connection asked to send what it cannot
express raises :class:`~voicewire.protocol.UnsupportedEventError`.

The idea follows LiveKit Agents' ``RealtimeCapabilities`` (flags such as message truncation and
turn detection), extended to every neutral client event, live session changes and the audio
formats a model takes and speaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from .config import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioEncoding,
    AudioFormat,
    SessionConfig,
)
from .events import ClientEvent

VoiceChange = Literal["any_time", "before_audio", "never"]
"""When a session may change the voice: at any time, only until the model first speaks in the
session (OpenAI), or never once connected."""

_ENCODING_NAMES: dict[AudioEncoding, str] = {
    "pcm16": "PCM16",
    "pcmu": "G.711 µ-law",
    "pcma": "G.711 A-law",
}


@dataclass(frozen=True, slots=True)
class AudioRange:
    """One audio encoding a model takes (or speaks), at a range of sample rates."""

    encoding: AudioEncoding
    """``pcm16`` (little-endian 16-bit), ``pcmu`` or ``pcma`` (G.711, 8-bit)."""
    min_rate: int
    """The lowest sample rate, in Hz (inclusive)."""
    max_rate: int
    """The highest sample rate, in Hz (inclusive)."""
    max_channels: int = 1
    """How many interleaved channels it takes at most (1: mono only)."""

    def covers(self, fmt: AudioFormat) -> bool:
        return (
            fmt.encoding == self.encoding
            and self.min_rate <= fmt.sample_rate <= self.max_rate
            and fmt.channels <= self.max_channels
        )

    def describe(self) -> str:
        """E.g. ``PCM16 24 kHz``, ``PCM16 8-48 kHz``, ``G.711 µ-law 8 kHz, any channels``."""
        low, high = _khz(self.min_rate), _khz(self.max_rate)
        rates = f"{low} kHz" if low == high else f"{low}-{high} kHz"
        text = f"{_ENCODING_NAMES[self.encoding]} {rates}"
        if self.max_channels > 1:
            text += ", any channels" if self.max_channels >= ANY_CHANNELS else ", multichannel"
        return text


ANY_CHANNELS = 255
"""``AudioRange.max_channels`` for a model that remixes whatever it is given."""


def telephony_and_pcm(min_rate: int, max_rate: int, *, channels: int = 1) -> tuple[AudioRange, ...]:
    """PCM16 at ``min_rate..max_rate`` Hz plus G.711 µ-law and A-law at 8 kHz."""
    return (
        AudioRange("pcm16", min_rate, max_rate, channels),
        AudioRange("pcmu", 8000, 8000, channels),
        AudioRange("pcma", 8000, 8000, channels),
    )


ANY_AUDIO: tuple[AudioRange, ...] = telephony_and_pcm(
    MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, channels=ANY_CHANNELS
)
"""Every :class:`~voicewire.protocol.AudioFormat` there is (a model that converts its audio)."""


def _flag(label: str, *, default: bool = True) -> bool:
    return field(default=default, metadata={"label": label})


@dataclass(frozen=True, slots=True)
class RealtimeCapabilities:
    """What one model can take. The defaults describe a model that takes every neutral client
    event, changes everything live and converts any audio; each provider states what it lacks.

    The session reads it: it never sends an event the model cannot take (a barge-in on a model
    without truncation still cuts the session's history to what was heard), and ``update()`` of
    something the model cannot change live raises a ``ConfigurationError``.
    """

    item_truncate: bool = _flag("cut an item to what was heard (`item.truncate`)")
    item_delete: bool = _flag("delete an item (`item.delete`)")
    response_create: bool = _flag("ask for a response (`response.create`)")
    response_cancel: bool = _flag("cancel a response (`response.cancel`)")
    input_commit: bool = _flag("commit the input audio (`audio.input.commit`)")
    input_clear: bool = _flag("clear the input audio (`audio.input.clear`)")
    activity_signals: bool = _flag("mark speech by hand (`activity.start` / `activity.end`)")
    manual_turns: bool = _flag("manual turns (no voice detection; commit, then respond)")
    server_vad: bool = _flag("server-side voice detection (`server_vad`)")
    semantic_vad: bool = _flag("semantic turn detection (`semantic_vad`)")
    default_turn_detection: Literal["server_vad", "semantic_vad"] | None = field(
        default=None, metadata={"label": "turn detection when the session names none"}
    )
    """What ends the user's turn when the session's config names no turn detection (the session
    sends the model nothing then; :attr:`RealtimeSession.turn_detection
    <voicewire.session.RealtimeSession.turn_detection>` and a voicewire server's
    ``session.created`` show this). OpenAI's and xAI's servers default to ``server_vad``, as does
    Gemini's automatic activity detection; an ElevenLabs agent's turn model judges what was said
    (``semantic_vad``); the local model uses ``semantic_vad`` when Smart Turn is installed, else
    ``server_vad`` (``LocalOptions.default_turn_detection`` overrides it). ``None``: the model
    does not say, and the session takes it to be ``server_vad``."""
    input_transcription: bool = _flag("transcribe the user (`transcript.input`)")
    live_instructions: bool = _flag("change instructions mid-session")
    live_tools: bool = _flag("change tools mid-session")
    live_voice: VoiceChange = field(
        default="any_time", metadata={"label": "change the voice mid-session"}
    )
    """See :data:`VoiceChange`; only a change of ``voice_id`` counts (not of speed)."""
    live_turn_detection: bool = _flag("change turn detection mid-session")
    live_audio_formats: bool = _flag("change audio formats mid-session")
    live_modalities: bool = _flag("change output modalities (audio or text) mid-session")
    live_transcription: bool = _flag("change the user's transcription mid-session")
    """Turn it on or off, or change its language or prompt (see :attr:`transcription_model`)."""
    transcription_model: bool = _flag("choose the transcription model")
    """``TranscriptionConfig.model`` is honoured; without it a model name is ignored (the
    provider transcribes with its own), at connect and in a live change alike."""
    session_resumption: bool = _flag(
        "resume a provider session (`ResumeConfig`; else history is replayed)", default=False
    )
    input_audio: tuple[AudioRange, ...] = field(
        default=ANY_AUDIO, metadata={"label": "audio it takes"}
    )
    output_audio: tuple[AudioRange, ...] = field(
        default=ANY_AUDIO, metadata={"label": "audio it speaks"}
    )

    # -- client events ---------------------------------------------------------------------------

    def can_send(self, event: ClientEvent) -> bool:
        """Whether the model can take ``event`` (``session.update``, ``item.create``,
        ``audio.input.append`` and ``tool.result`` every model takes)."""
        return event.kind not in self.unsupported_client_events()

    def unsupported_client_events(self) -> frozenset[str]:
        """The neutral client event kinds this model cannot take."""
        flags = {
            "item.truncate": self.item_truncate,
            "item.delete": self.item_delete,
            "response.create": self.response_create,
            "response.cancel": self.response_cancel,
            "audio.input.commit": self.input_commit,
            "audio.input.clear": self.input_clear,
            "activity.start": self.activity_signals,
            "activity.end": self.activity_signals,
        }
        return frozenset(kind for kind, able in flags.items() if not able)

    # -- live changes ----------------------------------------------------------------------------

    def settle_update(self, old: SessionConfig, new: SessionConfig) -> SessionConfig:
        """``new`` without what only restates ``old`` for this model: output modalities that
        speak the same way (``None`` is the providers' default, audio with its transcript, so
        ``["audio"]`` restates it), and a transcription model name the model cannot choose (it
        transcribes with its own; a transcription that names nothing else, while transcription
        is on, asks for nothing new). A client that states its whole session on connect (OpenAI's
        Agents SDK does) then asks for no change where it asks for none."""
        settled = new
        if new.modalities != old.modalities and _speaks(new) == _speaks(old):
            settled = replace(settled, modalities=old.modalities)
        after, before = new.transcription, old.transcription
        if after is not None and not self.transcription_model and after.model is not None:
            if before is not None and after.language is None and after.prompt is None:
                settled = replace(settled, transcription=before)  # "transcribe": it does
            else:
                model = before.model if before else None
                settled = replace(settled, transcription=replace(after, model=model))
        return settled

    def refuse_update(
        self, old: SessionConfig, new: SessionConfig, *, spoken: bool
    ) -> tuple[str, str] | None:
        """Why the live session cannot go from ``old`` to ``new``: ``(field, reason)`` for the
        first field that cannot change, or ``None`` when it can. ``spoken``: the model has
        already spoken in this session (for :data:`VoiceChange` ``before_audio``)."""
        if new.instructions != old.instructions and not self.live_instructions:
            return "instructions", "cannot change its instructions mid-session"
        if not self.live_tools:
            if tuple(new.tools) != tuple(old.tools):
                return "tools", "cannot change its tools mid-session"
            if new.tool_choice != old.tool_choice:
                return "tool_choice", "cannot change its tool choice mid-session"
        refused = self._refuse_voice(old, new, spoken=spoken)
        if refused is not None:
            return refused
        turn = new.turn_detection
        if turn is not None and turn != old.turn_detection and not self.live_turn_detection:
            return "turn_detection", "cannot change turn detection mid-session"
        for name in ("input_audio_format", "output_audio_format"):
            fmt = getattr(new, name)
            if fmt is not None and fmt != getattr(old, name) and not self.live_audio_formats:
                return name, "cannot change audio formats mid-session"
        if not self.live_modalities and _speaks(new) != _speaks(old):
            return "modalities", (
                f"cannot change its output from {_speaks(old)} to {_speaks(new)} mid-session "
                "(set modalities in the session config it connects with)"
            )
        if not self.live_transcription and new.transcription != old.transcription:
            return "transcription", (
                "cannot change the user's transcription mid-session (set transcription in the "
                "session config it connects with)"
            )
        return None

    def _refuse_voice(
        self, old: SessionConfig, new: SessionConfig, *, spoken: bool
    ) -> tuple[str, str] | None:
        before = old.voice.voice_id if old.voice else None
        after = new.voice.voice_id if new.voice else None
        if after is None or after == before or self.live_voice == "any_time":
            return None
        if self.live_voice == "never":
            return "voice", "cannot change its voice mid-session"
        if spoken:
            return "voice", "cannot change its voice once it has spoken in the session"
        return None


def _speaks(config: SessionConfig) -> str:
    """How ``config`` has the model answer: ``audio`` (with its transcript; the default) or
    ``text`` only."""
    modalities = config.modalities
    return "audio" if modalities is None or "audio" in modalities else "text"


def _khz(rate: int) -> str:
    return f"{rate / 1000:g}"


_VOICE_CHANGE_TEXT: dict[str, str] = {
    "any_time": "yes",
    "before_audio": "until it first speaks",
    "never": "no",
}


def render_capabilities_table(models: Mapping[str, RealtimeCapabilities]) -> str:
    """A markdown table: one row per capability, one column per model (``models``' keys)."""
    names = list(models)
    lines = [
        "| capability | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for spec in fields(RealtimeCapabilities):
        cells = [_cell(getattr(models[name], spec.name)) for name in names]
        lines.append(f"| {spec.metadata['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "not stated"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return _describe_ranges([r for r in value if isinstance(r, AudioRange)])
    return _VOICE_CHANGE_TEXT.get(str(value), str(value))


def _describe_ranges(ranges: list[AudioRange]) -> str:
    """``PCM16 24 kHz; G.711 µ-law, A-law 8 kHz``: the two G.711 laws share a line when they
    share their rates and channels."""
    parts = [r.describe() for r in ranges]
    by_encoding = {r.encoding: r for r in ranges}
    ulaw, alaw = by_encoding.get("pcmu"), by_encoding.get("pcma")
    if ulaw is not None and alaw is not None and replace(alaw, encoding="pcmu") == ulaw:
        joined = ulaw.describe().replace("µ-law", "µ-law, A-law", 1)
        parts = [p for p in parts if p != alaw.describe()]
        parts[parts.index(ulaw.describe())] = joined
    return "; ".join(parts)
