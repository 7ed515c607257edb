"""A phone call as a channel: the server side of Twilio Media Streams (``<Connect><Stream>``).

Twilio answers the call, asks your voice webhook for TwiML, and on ``<Connect><Stream url=...>``
opens a WebSocket *to you*. :class:`TwilioChannel` sits on that WebSocket: it feeds the caller's
audio (8 kHz μ-law) into a :class:`~voicewire.session.RealtimeSession` and sends the agent's
reply back as μ-law ``media`` frames, each stretch followed by a ``mark``. Twilio echoes a mark
once the caller has heard the audio before it, so the channel knows what was actually heard, and
a barge-in truncates the assistant's item there (not at what was merely sent, which can be
seconds ahead because Twilio buffers).

A complete app (Starlette; run it with uvicorn behind a public ``https``/``wss`` host)::

    import os

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from voicewire import AudioFormat, RealtimeAgent, RealtimeSession, SessionConfig
    from voicewire.channels.twilio import (
        TwilioChannel, twilio_route, twiml_connect_stream, validate_twilio_signature)
    from voicewire.protocol import ConnectOptions
    from voicewire.providers import openai

    PUBLIC_HOST = "voice.example.com"                       # where Twilio reaches this app
    AUTH_TOKEN = os.environ["TWILIO_AUTH_TOKEN"]
    AGENT = RealtimeAgent(id="desk", name="Front desk", instructions="Answer the phone politely.")
    # G.711 μ-law end to end: audio passes through untouched (no resampling, lowest latency).
    PHONE = ConnectOptions(session_config=SessionConfig(
        input_audio_format=AudioFormat.pcmu(), output_audio_format=AudioFormat.pcmu()))

    async def voice(request: Request) -> Response:          # Twilio's "A call comes in" webhook
        form = await request.form()
        url = f"https://{PUBLIC_HOST}{request.url.path}"
        if not validate_twilio_signature(AUTH_TOKEN, url, form,
                                         request.headers.get("X-Twilio-Signature")):
            return Response(status_code=403)
        twiml = twiml_connect_stream(f"wss://{PUBLIC_HOST}/media",
                                     parameters={"caller": str(form.get("From", ""))})
        return Response(twiml, media_type="text/xml")

    async def call(channel: TwilioChannel) -> None:
        info = await channel.wait_started()                  # stream/call SIDs, parameters
        session = RealtimeSession(AGENT, model=openai.realtime(), channel=channel,
                                  connect_options=PHONE)
        channel.on_dtmf = lambda digit: session.send_message(f"I pressed {digit}.")
        async with session:                                  # closes the session (and channel)
            await channel.stopped.wait()                     # the caller hung up

    app = Starlette(routes=[Route("/voice", voice, methods=["POST"]),
                            twilio_route("/media", call)])

Without :func:`twilio_route`, create the channel inside any Starlette/FastAPI WebSocket endpoint:
``channel = TwilioChannel(websocket)`` (accepted by :meth:`TwilioChannel.start` or
:meth:`~TwilioChannel.wait_started` if you have not accepted it yourself).

How output works (see :class:`TwilioChannel` for the details): the session's audio is converted
to μ-law (passed through when the session already speaks ``audio/pcmu``), cut into 20 ms
``media`` frames of 160 bytes, and a ``mark`` follows every ``mark_interval_ms`` of audio and the
end of each item. Resampling delays a little audio inside the filter; the channel flushes it at
the end of each item (when the sink is a session it listens for ``audio.output.done`` and
``response.done``, and in any case after ``flush_after_ms`` without new audio).

Where the pieces live (everything is importable from here, as before):

- :mod:`voicewire.channels.telephony.twilio_media`: Twilio's messages parsed and written, no I/O;
- :mod:`voicewire.channels.telephony.marks`: what the caller has heard, from echoed marks;
- :mod:`voicewire.channels.twilio_channel`: :class:`TwilioChannel`, the socket, audio and timers;
- :mod:`voicewire.channels.twilio_starlette`: :func:`twilio_route`;
- :mod:`voicewire.channels.twilio_twiml`: the TwiML answer and the webhook signature check.
"""

from __future__ import annotations

from .telephony.marks import MarkTracker, PlaybackMark
from .telephony.twilio_media import MULAW_8K as MULAW_8K
from .telephony.twilio_media import ErrorKind as ErrorKind
from .telephony.twilio_media import TwilioStreamError, TwilioStreamInfo
from .twilio_channel import FRAME_BYTES as FRAME_BYTES
from .twilio_channel import TwilioChannel, TwilioWebSocket
from .twilio_starlette import twilio_route
from .twilio_twiml import twilio_signature, twiml_connect_stream, validate_twilio_signature

__all__ = [
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

TwilioMark = PlaybackMark
"""A mark the channel sent (:class:`~voicewire.channels.telephony.marks.PlaybackMark`; the name
it had before telephony channels shared their marks)."""
