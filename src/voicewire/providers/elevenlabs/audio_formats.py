"""The audio formats an ElevenLabs agent announces, and the bridge between them and the app's.

An agent's formats are part of its configuration, not of the session: the server announces them in
``conversation_initiation_metadata`` (``user_input_audio_format``, ``agent_output_audio_format``),
as ``pcm_<rate>`` (16-bit little-endian mono PCM at 8000, 16000, 22050, 24000, 44100 or 48000 Hz)
or ``ulaw_8000`` (G.711 µ-law, telephony). The app keeps its own formats (the session's
``input_audio_format`` / ``output_audio_format``); :class:`FormatBridge` converts both ways with
streaming converters, so a 44.1 kHz agent talks to a 24 kHz app, or a µ-law phone line to a 16 kHz
agent, without the app knowing. Until the server has announced its formats the bridge assumes
``pcm_16000`` both ways, as ElevenLabs' JavaScript client does; voicewire's model waits for the
announcement before it hands out the connection, so no audio is converted on that guess.
"""

from __future__ import annotations

import re
from typing import Final

from ...audio import AudioConverter
from ...protocol import AudioFormat, ProtocolError

__all__ = ["DEFAULT_WIRE_FORMAT", "WIRE_FORMATS", "FormatBridge", "parse_wire_format"]

WIRE_FORMATS: Final = (
    "pcm_8000",
    "pcm_16000",
    "pcm_22050",
    "pcm_24000",
    "pcm_44100",
    "pcm_48000",
    "ulaw_8000",
)
"""The formats the AsyncAPI lists (``AudioFormat`` / ``UserInputAudioFormat``)."""

DEFAULT_WIRE_FORMAT: Final = "pcm_16000"
"""What is assumed before the server says (ElevenLabs' JavaScript client does the same)."""

_FORMAT: Final = re.compile(r"^(pcm|ulaw)_(\d{4,6})$")


def parse_wire_format(name: object, field: str) -> AudioFormat:
    """The :class:`AudioFormat` of a wire format name; rates beyond the listed ones are taken
    too (PCM at any rate voicewire handles), anything else raises :class:`ProtocolError` naming
    ``field``."""
    match = _FORMAT.match(name) if isinstance(name, str) else None
    if match is None:
        raise ProtocolError(
            f"{field} must be a format such as 'pcm_16000' or 'ulaw_8000', got {name!r}"[:200]
        )
    encoding, rate = match.group(1), int(match.group(2))
    try:
        if encoding == "ulaw":
            if rate != 8000:
                raise ValueError("µ-law is 8 kHz only")
            return AudioFormat.pcmu()
        return AudioFormat.pcm16(rate)
    except ValueError as exc:
        raise ProtocolError(f"{field} {name!r} is not a usable format: {exc}") from None


class FormatBridge:
    """Converts the app's input audio to the agent's input format and the agent's output audio
    to the app's output format, chunk by chunk (streaming: resampler state carries over)."""

    def __init__(self, app_input: AudioFormat, app_output: AudioFormat) -> None:
        self.app_input: Final = app_input
        self.app_output: Final = app_output
        default = parse_wire_format(DEFAULT_WIRE_FORMAT, DEFAULT_WIRE_FORMAT)
        self._to_wire = AudioConverter(app_input, default)
        self._from_wire = AudioConverter(default, app_output)

    @property
    def wire_input(self) -> AudioFormat:
        """The format the agent takes (``user_audio_chunk``)."""
        return self._to_wire.dst

    @property
    def wire_output(self) -> AudioFormat:
        """The format the agent speaks (``audio`` events)."""
        return self._from_wire.src

    @property
    def output_passthrough(self) -> bool:
        """The agent speaks the app's output format: its audio needs no conversion."""
        return self._from_wire.passthrough

    def announce(self, wire_input: AudioFormat, wire_output: AudioFormat) -> None:
        """The server said its formats; converters start afresh on them."""
        if wire_input != self._to_wire.dst:
            self._to_wire = AudioConverter(self.app_input, wire_input)
        if wire_output != self._from_wire.src:
            self._from_wire = AudioConverter(wire_output, self.app_output)

    def to_wire(self, audio: bytes) -> bytes:
        """App input audio as the agent takes it (possibly empty while the resampler fills)."""
        return self._to_wire.convert(audio)

    @property
    def input_passthrough(self) -> bool:
        """The agent takes the app's input format: its audio needs no conversion."""
        return self._to_wire.passthrough

    def end_input(self) -> bytes:
        """The end of one stretch of the user's audio: what the resampler still held."""
        return self._to_wire.flush()

    def from_wire(self, audio: bytes) -> bytes:
        """Agent audio as the app plays it."""
        return self._from_wire.convert(audio)

    def end_output(self) -> bytes:
        """The end of one stretch of agent audio: what the resampler still held."""
        return self._from_wire.flush()

    def drop_output(self) -> None:
        """The agent was interrupted: forget what the resampler held."""
        self._from_wire.reset()
