"""Twilio Media Streams messages parsed and written with no socket
(voicewire.channels.telephony.twilio_media): each message Twilio sends as a typed value, a precise
error for each way one can be broken, the stream's own rules, and what the app sends checked
against the published schema."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.channels.twilio_support import (
    ACCOUNT_SID,
    CALL_SID,
    EVENTS,
    STREAM_SID,
    inbound_validator,
    outbound_validator,
    start_message,
)
from voicewire.channels.telephony.twilio_media import (
    Connected,
    Dtmf,
    Mark,
    Media,
    OutboundClear,
    OutboundMark,
    OutboundMedia,
    OutboundMessage,
    Start,
    Stop,
    TwilioMediaStream,
    TwilioMessageError,
    TwilioStreamError,
    TwilioStreamInfo,
    encode_message,
    parse_message,
)
from voicewire.protocol import ProtocolError

AUDIO = bytes(range(256)) * 2  # every μ-law byte value
MULAW = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}

# What Twilio sends, as its "WebSocket messages" page shows it; checked against the schema below.
FROM_TWILIO: dict[str, dict[str, Any]] = {
    "connected": {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    "start": {
        "sequenceNumber": "1",
        **start_message({"agent": "desk", "caller": "+15550100"}),
    },
    "media": {
        "event": "media",
        "sequenceNumber": "3",
        "streamSid": STREAM_SID,
        "media": {
            "track": "inbound",
            "chunk": "1",
            "timestamp": "5",
            "payload": base64.b64encode(AUDIO).decode(),
        },
    },
    "dtmf": {
        "event": "dtmf",
        "sequenceNumber": "5",
        "streamSid": STREAM_SID,
        "dtmf": {"track": "inbound_track", "digit": "1"},
    },
    "mark": {
        "event": "mark",
        "sequenceNumber": "4",
        "streamSid": STREAM_SID,
        "mark": {"name": "my label"},
    },
    "stop": {
        "event": "stop",
        "sequenceNumber": "5",
        "streamSid": STREAM_SID,
        "stop": {"accountSid": ACCOUNT_SID, "callSid": CALL_SID},
    },
}

INFO = TwilioStreamInfo(
    stream_sid=STREAM_SID,
    call_sid=CALL_SID,
    account_sid=ACCOUNT_SID,
    tracks=("inbound",),
    custom_parameters={"agent": "desk", "caller": "+15550100"},
    media_format=MULAW,
)
PARSED = {
    "connected": Connected("Call", "1.0.0"),
    "start": Start(INFO),
    "media": Media("inbound", AUDIO, chunk="1", timestamp="5"),
    "dtmf": Dtmf("1", "inbound_track"),
    "mark": Mark("my label"),
    "stop": Stop(ACCOUNT_SID, CALL_SID),
}


def text(message: dict[str, Any]) -> str:
    return json.dumps(message)


def with_fields(event: str, **fields: Any) -> str:
    """Twilio's ``event`` message with its payload object's fields replaced (None: removed)."""
    message = json.loads(json.dumps(FROM_TWILIO[event]))
    for name, value in fields.items():
        if value is None:
            message[event].pop(name, None)
        else:
            message[event][name] = value
    return text(message)


# -- what Twilio sends ------------------------------------------------------------------------


def test_the_examples_are_what_the_schema_says_twilio_sends() -> None:
    validator = inbound_validator()
    for message in FROM_TWILIO.values():
        assert list(validator.iter_errors(message)) == []
    assert set(FROM_TWILIO) == set(EVENTS["twilio_to_app"])


@pytest.mark.parametrize("event", list(PARSED))
def test_each_message_twilio_sends_is_parsed_into_its_type(event: str) -> None:
    assert parse_message(text(FROM_TWILIO[event])) == PARSED[event]


def test_media_tracks() -> None:
    assert parse_message(with_fields("media", track=None)) == Media("inbound", AUDIO, "1", "5")
    assert Media("inbound", b"").inbound and Media("inbound_track", b"").inbound
    outbound = parse_message(with_fields("media", track="outbound"))
    assert isinstance(outbound, Media) and not outbound.inbound


def test_optional_fields_may_be_missing() -> None:
    assert parse_message('{"event": "connected"}') == Connected(None, None)
    assert parse_message('{"event": "stop"}') == Stop()
    assert parse_message('{"event": "stop", "stop": "over"}') == Stop()
    assert parse_message('{"event": "dtmf", "dtmf": {"digit": "#"}}') == Dtmf("#")
    minimal = parse_message('{"event": "start", "start": {"streamSid": "MZ1"}}')
    assert minimal == Start(TwilioStreamInfo("MZ1", None, None, (), {}, {}))
    # The streamSid beside the start object stands in for a missing one inside it.
    beside = parse_message(text({"event": "start", "streamSid": "MZ2", "start": {}}))
    assert isinstance(beside, Start) and beside.info.stream_sid == "MZ2"


def test_start_values_are_read_as_strings() -> None:
    start = parse_message(
        with_fields("start", customParameters={"n": 1, "ok": True}, tracks=["inbound", 3])
    )
    assert isinstance(start, Start)
    assert start.info.custom_parameters == {"n": "1", "ok": "True"}
    assert start.info.tracks == ("inbound",)
    assert start.problems == ()


def test_a_start_with_tolerable_problems_still_starts_the_stream() -> None:
    start = parse_message(
        with_fields(
            "start",
            customParameters=["not", "an", "object"],
            mediaFormat={"encoding": "audio/l16", "sampleRate": 16000, "channels": 1},
        )
    )
    assert isinstance(start, Start)
    assert start.info.stream_sid == STREAM_SID and start.info.custom_parameters == {}
    assert [p.kind for p in start.problems] == ["invalid_message", "unsupported_media_format"]
    assert "customParameters" in start.problems[0].message
    assert "audio/l16" in start.problems[1].message
    for media_format in (
        {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2},
        {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1},
    ):
        odd = parse_message(with_fields("start", mediaFormat=media_format))
        assert isinstance(odd, Start)
        assert [p.kind for p in odd.problems] == ["unsupported_media_format"]


BROKEN = [
    ("{not json", "malformed_json", "not JSON"),
    ('["a", "list"]', "invalid_message", "expected a JSON object"),
    ('{"no": "event"}', "invalid_message", "no 'event' string"),
    ('{"event": 7}', "invalid_message", "no 'event' string"),
    ('{"event": "transcription"}', "unknown_event", "unknown event 'transcription'"),
    ('{"event": "clear", "streamSid": "MZ1"}', "unknown_event", "'clear'"),  # ours, not Twilio's
    ('{"event": "start"}', "invalid_message", "without a 'start' object"),
    ('{"event": "start", "start": {"callSid": "CA1"}}', "invalid_message", "without a streamSid"),
    ('{"event": "start", "start": {"streamSid": ""}}', "invalid_message", "without a streamSid"),
    ('{"event": "start", "start": {"streamSid": 5}}', "invalid_message", "without a streamSid"),
    ('{"event": "media"}', "invalid_message", "without a 'media' object"),
    ('{"event": "media", "media": "AAAA"}', "invalid_message", "without a 'media' object"),
    ('{"event": "media", "media": {"track": 1, "payload": "AAAA"}}', "invalid_message", "track"),
    ('{"event": "media", "media": {"chunk": "1"}}', "invalid_message", "payload string"),
    ('{"event": "media", "media": {"payload": null}}', "invalid_message", "payload string"),
    (
        '{"event": "media", "media": {"chunk": "9", "payload": "!!!not base64!!!"}}',
        "invalid_payload",
        "media chunk '9': invalid base64",
    ),
    ('{"event": "media", "media": {"payload": "AAA"}}', "invalid_payload", "invalid base64"),
    ('{"event": "media", "media": {"payload": "AA-_"}}', "invalid_payload", "invalid base64"),
    ('{"event": "dtmf"}', "invalid_message", "without dtmf.digit"),
    ('{"event": "dtmf", "dtmf": {"digit": ""}}', "invalid_message", "without dtmf.digit"),
    ('{"event": "dtmf", "dtmf": {"digit": 1}}', "invalid_message", "without dtmf.digit"),
    ('{"event": "mark"}', "invalid_message", "without mark.name"),
    ('{"event": "mark", "mark": {}}', "invalid_message", "without mark.name"),
    ('{"event": "mark", "mark": {"name": 3}}', "invalid_message", "without mark.name"),
]


@pytest.mark.parametrize(("frame", "kind", "says"), BROKEN)
def test_each_broken_message_gets_a_precise_error(frame: str, kind: str, says: str) -> None:
    with pytest.raises(TwilioMessageError) as raised:
        parse_message(frame)
    error = raised.value
    assert isinstance(error, ProtocolError)
    assert error.kind == kind
    assert error.error == TwilioStreamError(error.kind, error.error.message)
    assert says in error.error.message
    assert str(error) == f"{kind}: {error.error.message}"


def test_errors_quote_a_bounded_preview() -> None:
    with pytest.raises(TwilioMessageError) as raised:
        parse_message("x" * 10_000)
    assert len(raised.value.error.message) < 200
    assert "x" * 80 + "..." in raised.value.error.message


# -- what the app sends -----------------------------------------------------------------------


OUTBOUND: list[OutboundMessage] = [
    OutboundMedia(STREAM_SID, AUDIO),
    OutboundMark(STREAM_SID, "vw1:item_a:0:20"),
    OutboundClear(STREAM_SID),
]


def test_what_the_app_sends_is_exactly_what_the_schema_allows() -> None:
    validator = outbound_validator()  # strict: Twilio refuses unknown fields
    sent = [json.loads(encode_message(message)) for message in OUTBOUND]
    for message in sent:
        assert list(validator.iter_errors(message)) == []
    assert [m["event"] for m in sent] == EVENTS["app_to_twilio"]
    assert sent == [
        {
            "event": "media",
            "streamSid": STREAM_SID,
            "media": {"payload": base64.b64encode(AUDIO).decode()},
        },
        {"event": "mark", "streamSid": STREAM_SID, "mark": {"name": "vw1:item_a:0:20"}},
        {"event": "clear", "streamSid": STREAM_SID},
    ]


def test_outbound_media_round_trips_through_the_parser() -> None:
    echoed = json.loads(encode_message(OutboundMedia(STREAM_SID, AUDIO)))
    echoed["media"]["track"] = "outbound"  # as a both_tracks stream would show it
    assert parse_message(text(echoed)) == Media("outbound", AUDIO)


# -- one stream -------------------------------------------------------------------------------


def test_a_stream_remembers_its_start_and_addresses_what_it_sends() -> None:
    stream = TwilioMediaStream()
    assert stream.info is None and stream.stream_sid is None
    assert stream.receive(text(FROM_TWILIO["connected"])) == PARSED["connected"]
    assert stream.protocol_version == "1.0.0"
    with pytest.raises(RuntimeError, match="streamSid"):
        stream.media(AUDIO)  # nothing can be addressed yet
    assert stream.receive(text(FROM_TWILIO["start"])) == PARSED["start"]
    assert stream.info == INFO and stream.stream_sid == STREAM_SID
    for event in ("media", "dtmf", "mark", "stop"):
        assert stream.receive(text(FROM_TWILIO[event])) == PARSED[event]
    validator = outbound_validator()
    frames = [stream.media(AUDIO), stream.mark("m1"), stream.clear()]
    assert frames == [encode_message(message) for message in OUTBOUND[:1]] + [
        encode_message(OutboundMark(STREAM_SID, "m1")),
        encode_message(OutboundClear(STREAM_SID)),
    ]
    for frame in frames:
        assert list(validator.iter_errors(json.loads(frame))) == []


def test_a_stream_refuses_media_before_start_and_a_second_start() -> None:
    stream = TwilioMediaStream()
    with pytest.raises(TwilioMessageError) as before:
        stream.receive(text(FROM_TWILIO["media"]))
    assert before.value.kind == "media_before_start"
    # A message is judged on its own first: broken media before start is broken media.
    with pytest.raises(TwilioMessageError) as broken:
        stream.receive('{"event": "media", "media": {"payload": "%%%"}}')
    assert broken.value.kind == "invalid_payload"
    # Marks, digits and the end may come at any time; only media needs the start.
    assert stream.receive(text(FROM_TWILIO["dtmf"])) == PARSED["dtmf"]
    stream.receive(text(FROM_TWILIO["start"]))
    second = json.loads(with_fields("start", streamSid="MZother"))
    with pytest.raises(TwilioMessageError) as again:
        stream.receive(text(second))
    assert again.value.kind == "duplicate_start"
    assert again.value.error.message == "a second start message was ignored"
    assert stream.stream_sid == STREAM_SID  # the first start holds
    assert stream.receive(text(FROM_TWILIO["media"])) == PARSED["media"]


def test_a_refused_message_changes_nothing() -> None:
    stream = TwilioMediaStream()
    with pytest.raises(TwilioMessageError):
        stream.receive('{"event": "start", "start": {}}')
    assert stream.info is None
    stream.receive('{"event": "connected", "version": 2}')
    assert stream.protocol_version is None  # not a string: unknown
