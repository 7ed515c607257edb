"""Telephony providers on the wire, and what their channels share.

A phone channel is two parts: a media-stream module per provider that translates its WebSocket
messages to and from typed values with no I/O (:mod:`.twilio_media` for Twilio Media Streams),
and a thin I/O shell that reads and writes the socket, converts and frames the audio and keeps
the session informed (:class:`~voicewire.channels.twilio.TwilioChannel`). What does not depend
on the provider lives here beside them (:mod:`.marks`: what the caller has heard). Another
provider starts as one more media-stream module, tested with strings alone.
"""

from .marks import MarkTracker, PlaybackMark

__all__ = ["MarkTracker", "PlaybackMark"]
