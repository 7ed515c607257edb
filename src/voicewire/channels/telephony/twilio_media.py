"""Twilio Media Streams on the wire, with no I/O: the JSON text frames of a bidirectional stream
(``<Connect><Stream>``) parsed into typed messages, and the app's messages written from them.

Twilio sends ``connected``, ``start``, ``media``, ``dtmf``, ``mark`` and ``stop``; the app sends
``media``, ``mark`` and ``clear``. Audio is base64 G.711 μ-law, 8 kHz, mono, both ways; every
message the app sends needs the ``streamSid`` that ``start`` carried, and Twilio refuses binary
frames and unknown fields.

- :func:`parse_message` reads one text frame on its own and returns a :class:`Connected`,
  :class:`Start`, :class:`Media`, :class:`Dtmf`, :class:`Mark` or :class:`Stop`, or raises
  :class:`TwilioMessageError` saying precisely what is wrong (its :attr:`~TwilioMessageError.kind`
  is one of :data:`MessageErrorKind`).
- :func:`encode_message` writes an :class:`OutboundMedia`, :class:`OutboundMark` or
  :class:`OutboundClear` as the text frame Twilio expects.
- :class:`TwilioMediaStream` is one stream's state on top of them: it checks each message against
  what came before (one ``start``, no media before it) and remembers the ``streamSid`` the
  outbound messages need.

Nothing here touches a socket, a clock or an audio converter, so it is tested with strings alone;
:class:`~voicewire.channels.twilio.TwilioChannel` is the I/O around it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ...protocol import AudioFormat, ProtocolError
from ...protocol.base64_audio import b64decode_strict, encode_base64

__all__ = [
    "MULAW_8K",
    "Connected",
    "Dtmf",
    "ErrorKind",
    "InboundMessage",
    "Mark",
    "Media",
    "MessageErrorKind",
    "OutboundClear",
    "OutboundMark",
    "OutboundMedia",
    "OutboundMessage",
    "Start",
    "Stop",
    "TwilioMediaStream",
    "TwilioMessageError",
    "TwilioStreamError",
    "TwilioStreamInfo",
    "encode_message",
    "parse_message",
]

MULAW_8K: Final = AudioFormat.pcmu()
"""What Twilio Media Streams carry both ways: G.711 μ-law, 8 kHz, mono, no header."""

MessageErrorKind = Literal[
    "malformed_json",
    "invalid_message",
    "unknown_event",
    "media_before_start",
    "invalid_payload",
    "duplicate_start",
    "unsupported_media_format",
]
"""What can be wrong with a message Twilio sent (found by this module)."""

ErrorKind = (
    MessageErrorKind
    | Literal[
        "binary_frame",
        "callback_failed",
        "send_failed",
        "receive_failed",
        "internal_error",
    ]
)
"""Every kind of :class:`TwilioStreamError`: a :data:`MessageErrorKind`, or one the channel
finds around the messages (a binary frame, a failed send or receive, a callback or handler that
raised)."""


@dataclass(frozen=True, slots=True)
class TwilioStreamError:
    """Something wrong with what Twilio sent (or with sending to it). The call goes on."""

    kind: ErrorKind
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class TwilioMessageError(ProtocolError):
    """A message from Twilio that breaks the Media Streams protocol: it is to be ignored (and
    reported), the stream goes on. :attr:`error` says what is wrong, as the channel reports it."""

    def __init__(self, kind: MessageErrorKind, message: str) -> None:
        self.kind: MessageErrorKind = kind
        self.error = TwilioStreamError(kind, message)
        super().__init__(str(self.error))


# -- what Twilio sends ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwilioStreamInfo:
    """The ``start`` message: which stream and call this is, and the TwiML ``<Parameter>``\\ s."""

    stream_sid: str
    call_sid: str | None
    account_sid: str | None
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str]
    media_format: Mapping[str, Any]
    """As Twilio sent it: ``{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}``."""


@dataclass(frozen=True, slots=True)
class Connected:
    """``connected``: the first message of every stream, before ``start``."""

    protocol: str | None
    """``"Call"`` today."""
    version: str | None
    """The Media Streams protocol version, such as ``"1.0.0"``."""


@dataclass(frozen=True, slots=True)
class Start:
    """``start``: once per stream, before any media."""

    info: TwilioStreamInfo
    problems: tuple[TwilioStreamError, ...] = ()
    """What was wrong with the message without making it useless, oldest first:
    ``customParameters`` that is not an object (read as none), a ``mediaFormat`` other than μ-law
    8 kHz mono (the audio is still read as that: it is all Twilio sends)."""


@dataclass(frozen=True, slots=True)
class Media:
    """``media``: a chunk of the call's audio (about 20 ms)."""

    track: str
    """``"inbound"``: what the caller says; ``"outbound"`` (only with ``track="both_tracks"``
    on a one-way ``<Start><Stream>``): what the call plays to the caller."""
    payload: bytes
    """The audio, μ-law 8 kHz mono (base64 decoded)."""
    chunk: str | None = None
    """Chunk number, counted from ``"1"``."""
    timestamp: str | None = None
    """Milliseconds since the stream started, as a string."""

    @property
    def inbound(self) -> bool:
        """Whether this is the caller's audio."""
        return self.track in ("inbound", "inbound_track")


@dataclass(frozen=True, slots=True)
class Dtmf:
    """``dtmf``: the caller pressed a key."""

    digit: str
    """``0``-``9``, ``*`` or ``#``."""
    track: str | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """``mark``: the audio sent before the app's mark of this ``name`` has been played (or
    cleared: after a ``clear`` Twilio echoes every mark still queued)."""

    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    """``stop``: the stream is over (the caller hung up, or the call left the ``<Stream>``)."""

    account_sid: str | None = None
    call_sid: str | None = None


InboundMessage = Connected | Start | Media | Dtmf | Mark | Stop
"""A message Twilio sends to the app."""


# -- what the app sends -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundMedia:
    """Audio for Twilio to play to the caller: μ-law 8 kHz mono, any length."""

    stream_sid: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboundMark:
    """A mark after the audio sent so far: Twilio echoes ``name`` once that audio has played."""

    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class OutboundClear:
    """Drop the audio Twilio has buffered and not yet played (barge-in)."""

    stream_sid: str


OutboundMessage = OutboundMedia | OutboundMark | OutboundClear
"""A message the app sends to Twilio."""


def encode_message(message: OutboundMessage) -> str:
    """The text frame for ``message``, with exactly the fields Twilio accepts."""
    sid = message.stream_sid
    if isinstance(message, OutboundMedia):
        payload = encode_base64(message.payload)
        return json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})
    if isinstance(message, OutboundMark):
        return json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": message.name}})
    return json.dumps({"event": "clear", "streamSid": sid})


# -- parsing ----------------------------------------------------------------------------------


def parse_message(text: str) -> InboundMessage:
    """One text frame from Twilio as a typed message, judged on its own (whether it fits the
    stream so far is :class:`TwilioMediaStream`'s concern).

    Raises :class:`TwilioMessageError`: ``malformed_json`` (not JSON), ``invalid_message`` (not
    an object, no ``event``, a required field missing or of the wrong type), ``unknown_event``, or
    ``invalid_payload`` (media that is not strict base64). Fields this module does not read
    (``sequenceNumber``, the top-level ``streamSid``, ...) may be anything.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise TwilioMessageError("malformed_json", f"not JSON ({exc}): {_preview(text)}") from None
    if not isinstance(message, dict):
        raise TwilioMessageError("invalid_message", f"expected a JSON object: {_preview(text)}")
    event = message.get("event")
    if not isinstance(event, str):
        raise TwilioMessageError("invalid_message", f"no 'event' string: {_preview(text)}")
    parse = _PARSERS.get(event)
    if parse is None:
        raise TwilioMessageError("unknown_event", f"unknown event {event!r}: {_preview(text)}")
    return parse(message)


def _parse_connected(message: dict[str, Any]) -> Connected:
    return Connected(_opt_str(message.get("protocol")), _opt_str(message.get("version")))


def _parse_start(message: dict[str, Any]) -> Start:
    start = message.get("start")
    if not isinstance(start, dict):
        raise TwilioMessageError("invalid_message", "start message without a 'start' object")
    sid = start.get("streamSid", message.get("streamSid"))
    if not isinstance(sid, str) or not sid:
        raise TwilioMessageError("invalid_message", "start message without a streamSid")
    problems: list[TwilioStreamError] = []
    params = start.get("customParameters")
    if params is not None and not isinstance(params, dict):
        problems.append(
            TwilioStreamError("invalid_message", "start.customParameters is not an object")
        )
        params = None
    tracks = start.get("tracks")
    fmt = start.get("mediaFormat")
    media_format = fmt if isinstance(fmt, dict) else {}
    encoding = str(media_format.get("encoding", "audio/x-mulaw")).lower()
    rate, channels = media_format.get("sampleRate", 8000), media_format.get("channels", 1)
    if encoding != "audio/x-mulaw" or rate != 8000 or channels != 1:
        problems.append(
            TwilioStreamError(
                "unsupported_media_format",
                f"mediaFormat {media_format} is not audio/x-mulaw 8000 Hz mono; "
                "treating the audio as that anyway",
            )
        )
    info = TwilioStreamInfo(
        stream_sid=sid,
        call_sid=_opt_str(start.get("callSid")),
        account_sid=_opt_str(start.get("accountSid")),
        tracks=tuple(t for t in tracks if isinstance(t, str)) if isinstance(tracks, list) else (),
        custom_parameters={str(k): str(v) for k, v in (params or {}).items()},
        media_format=media_format,
    )
    return Start(info, tuple(problems))


def _parse_media(message: dict[str, Any]) -> Media:
    media = message.get("media")
    if not isinstance(media, dict):
        raise TwilioMessageError("invalid_message", "media message without a 'media' object")
    track = media.get("track", "inbound")
    if not isinstance(track, str):
        raise TwilioMessageError("invalid_message", f"media.track is not a string: {track!r}")
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise TwilioMessageError("invalid_message", "media message without a payload string")
    try:
        audio = b64decode_strict(payload)
    except ValueError as exc:
        raise TwilioMessageError(
            "invalid_payload",
            f"media chunk {media.get('chunk')!r}: invalid base64 ({exc}): {_preview(payload)}",
        ) from None
    return Media(track, audio, _opt_str(media.get("chunk")), _opt_str(media.get("timestamp")))


def _parse_dtmf(message: dict[str, Any]) -> Dtmf:
    dtmf = message.get("dtmf")
    fields: dict[str, Any] = dtmf if isinstance(dtmf, dict) else {}
    digit = fields.get("digit")
    if not isinstance(digit, str) or not digit:
        raise TwilioMessageError("invalid_message", "dtmf message without dtmf.digit")
    return Dtmf(digit, _opt_str(fields.get("track")))


def _parse_mark(message: dict[str, Any]) -> Mark:
    mark = message.get("mark")
    name = mark.get("name") if isinstance(mark, dict) else None
    if not isinstance(name, str):
        raise TwilioMessageError("invalid_message", "mark message without mark.name")
    return Mark(name)


def _parse_stop(message: dict[str, Any]) -> Stop:
    stop = message.get("stop")
    if not isinstance(stop, dict):
        return Stop()  # the stream is over all the same
    return Stop(_opt_str(stop.get("accountSid")), _opt_str(stop.get("callSid")))


_PARSERS: Final[dict[str, Callable[[dict[str, Any]], InboundMessage]]] = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "dtmf": _parse_dtmf,
    "mark": _parse_mark,
    "stop": _parse_stop,
}


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _preview(text: str, limit: int = 80) -> str:
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


# -- one stream -------------------------------------------------------------------------------


class TwilioMediaStream:
    """The state of one Media Stream, without I/O: feed it each text frame Twilio sends
    (:meth:`receive`), ask it for each frame to send (:meth:`media`, :meth:`mark`, :meth:`clear`).

    A message is first judged on its own (:func:`parse_message`), then against the stream: a
    second ``start`` is ``duplicate_start``, media before ``start`` is ``media_before_start``;
    either raises :class:`TwilioMessageError` and changes nothing.
    """

    def __init__(self) -> None:
        self.info: TwilioStreamInfo | None = None
        """The ``start`` message, once it arrived."""
        self.protocol_version: str | None = None
        """``version`` of the ``connected`` message."""

    @property
    def stream_sid(self) -> str | None:
        return self.info.stream_sid if self.info else None

    def receive(self, text: str) -> InboundMessage:
        """The message in ``text``, or :class:`TwilioMessageError` for one to ignore."""
        message = parse_message(text)
        if isinstance(message, Connected):
            self.protocol_version = message.version
        elif isinstance(message, Start):
            if self.info is not None:
                raise TwilioMessageError("duplicate_start", "a second start message was ignored")
            self.info = message.info
        elif isinstance(message, Media) and self.info is None:
            raise TwilioMessageError(
                "media_before_start", "media before the start message was dropped"
            )
        return message

    def media(self, audio: bytes) -> str:
        """The frame that sends μ-law ``audio`` to be played."""
        return encode_message(OutboundMedia(self._sid(), audio))

    def mark(self, name: str) -> str:
        """The frame that asks Twilio to echo ``name`` once the audio sent so far has played."""
        return encode_message(OutboundMark(self._sid(), name))

    def clear(self) -> str:
        """The frame that drops what Twilio has buffered."""
        return encode_message(OutboundClear(self._sid()))

    def _sid(self) -> str:
        if self.info is None:
            raise RuntimeError("nothing can be sent before Twilio's start message (its streamSid)")
        return self.info.stream_sid
