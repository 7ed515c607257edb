"""Every Twilio name stays importable where it was before the channel was split by concern
(voicewire.channels and voicewire.channels.twilio), and is the one its new module defines."""

from __future__ import annotations

import voicewire.channels as channels
import voicewire.channels.twilio as twilio
from voicewire.channels import telephony, twilio_channel, twilio_starlette, twilio_twiml
from voicewire.channels.telephony import marks, twilio_media


def test_the_old_paths_name_the_new_definitions() -> None:
    assert twilio.__all__ == [
        "MarkTracker",
        "TwilioChannel",
        "TwilioMark",
        "TwilioStreamError",
        "TwilioStreamInfo",
        "TwilioWebSocket",
        "twilio_route",
        "twilio_signature",
        "twiml_connect_stream",
        "validate_twilio_signature",
    ]
    assert twilio.TwilioChannel is twilio_channel.TwilioChannel
    assert twilio.TwilioWebSocket is twilio_channel.TwilioWebSocket
    assert twilio.twilio_route is twilio_starlette.twilio_route
    assert twilio.MarkTracker is marks.MarkTracker is telephony.MarkTracker
    assert twilio.TwilioMark is marks.PlaybackMark
    assert twilio.TwilioStreamError is twilio_media.TwilioStreamError
    assert twilio.TwilioStreamInfo is twilio_media.TwilioStreamInfo
    assert twilio.twilio_signature is twilio_twiml.twilio_signature
    assert twilio.MULAW_8K is twilio_media.MULAW_8K
    assert twilio.FRAME_BYTES == 160
    for name in (
        "TwilioChannel",
        "TwilioStreamError",
        "TwilioStreamInfo",
        "twilio_route",
        "twiml_connect_stream",
        "validate_twilio_signature",
    ):
        assert getattr(channels, name) is getattr(twilio, name)
        assert name in channels.__all__
