"""Audio formats on the OpenAI Realtime wire, both directions.

* :func:`encode_audio_format` — the client codec writing a format for a provider, held to what
  the dialect's capabilities accept (OpenAI: PCM at 24 kHz; xAI: 8-48 kHz; both G.711 at 8 kHz).
* :func:`parse_audio_format` — the server reading a client's format: ``audio/pcmu`` and
  ``audio/pcma`` (8 kHz, as at OpenAI), and ``audio/pcm`` at any integer rate from
  :data:`MIN_PCM_RATE` to :data:`MAX_PCM_RATE` Hz. OpenAI's GA schema allows PCM at 24000 Hz
  only; this server hosts other models too (the local one resamples), so it accepts the rates
  telephony, browsers and sound cards use, and refuses the rest with a clear error rather than
  let a 50 Hz "rate" reach a model (the neutral :class:`AudioFormat` bounds rates more loosely,
  for channels and files).
* :func:`render_audio_format` — the server showing a session's format to its client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from voicewire.protocol import AudioFormat, ConfigurationError
from voicewire.protocol.config import MIN_SAMPLE_RATE

from .dialect import Dialect
from .fields import MISSING, Fields

__all__ = [
    "MAX_PCM_RATE",
    "MIN_PCM_RATE",
    "encode_audio_format",
    "parse_audio_format",
    "render_audio_format",
]

MIN_PCM_RATE: Final = MIN_SAMPLE_RATE
MAX_PCM_RATE: Final = 48000
"""The ``audio/pcm`` rates a client may ask for (OpenAI itself takes 24000 only)."""

_FORMATS: Final = ("audio/pcm", "audio/pcmu", "audio/pcma")


def encode_audio_format(fmt: AudioFormat, dialect: Dialect, direction: str) -> dict[str, Any]:
    if fmt.channels != 1:
        raise ConfigurationError(
            f"{dialect.name} realtime audio is mono; the {direction} format has "
            f"{fmt.channels} channels"
        )
    encoding = fmt.encoding
    if encoding == "pcm16":
        low, high = dialect.pcm_rate_range
        if not low <= fmt.sample_rate <= high:
            allowed = f"{low} Hz" if low == high else f"{low}-{high} Hz"
            raise ConfigurationError(
                f"{dialect.name} accepts {direction} PCM at {allowed}, got {fmt.sample_rate} Hz; "
                "resample with voicewire.audio or pick a supported rate"
            )
        return {"type": "audio/pcm", "rate": fmt.sample_rate}
    if fmt.sample_rate != 8000:
        raise ConfigurationError(
            f"G.711 ({fmt.mime_type}) is 8000 Hz, got sample_rate={fmt.sample_rate}"
        )
    return {"type": "audio/pcmu" if encoding == "pcmu" else "audio/pcma"}


def parse_audio_format(raw: Mapping[str, Any], path: str, fields: Fields) -> AudioFormat:
    """A GA format object; PCM at :data:`MIN_PCM_RATE`..:data:`MAX_PCM_RATE` Hz (24000 unset)."""
    kind = fields.choice(raw.get("type", MISSING), f"{path}.type", _FORMATS)
    if kind == "audio/pcmu":
        return AudioFormat.pcmu()
    if kind == "audio/pcma":
        return AudioFormat.pcma()
    if raw.get("rate") is None:
        return AudioFormat.pcm16()
    rate_path = f"{path}.rate"
    rate = fields.integer(raw, "rate", rate_path, minimum=MIN_PCM_RATE, maximum=MAX_PCM_RATE)
    return AudioFormat.pcm16(rate)


def render_audio_format(fmt: AudioFormat) -> dict[str, Any]:
    """GA format object. OpenAI's schema fixes PCM at 24 kHz; other rates are shown as they are
    (the session really runs at that rate), which strict OpenAI clients may reject."""
    if fmt.encoding == "pcm16":
        return {"type": "audio/pcm", "rate": fmt.sample_rate}
    return {"type": "audio/pcmu" if fmt.encoding == "pcmu" else "audio/pcma"}
