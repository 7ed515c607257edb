"""Channels: where the user is. A channel feeds captured audio into a session (its
:class:`~voicewire.protocol.AudioSink`) and plays the assistant's audio back."""

from .device import DeviceChannel
from .twilio import (
    TwilioChannel,
    TwilioStreamError,
    TwilioStreamInfo,
    twilio_route,
    twiml_connect_stream,
    validate_twilio_signature,
)
from .wav import WavAudio, WavChannel, read_wav, write_wav

__all__ = [
    "DeviceChannel",
    "TwilioChannel",
    "TwilioStreamError",
    "TwilioStreamInfo",
    "WavAudio",
    "WavChannel",
    "read_wav",
    "twilio_route",
    "twiml_connect_stream",
    "validate_twilio_signature",
    "write_wav",
]
