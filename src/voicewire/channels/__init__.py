"""Channels: where the user is. A channel feeds captured audio into a session (its
:class:`~voicewire.protocol.AudioSink`) and plays the assistant's audio back."""

from .wav import WavAudio, WavChannel, read_wav, write_wav

__all__ = ["WavAudio", "WavChannel", "read_wav", "write_wav"]
