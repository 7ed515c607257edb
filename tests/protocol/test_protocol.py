from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from voicewire.protocol import (
    CLIENT_EVENT_TYPES,
    SERVER_EVENT_TYPES,
    AudioFormat,
    AudioOutputDelta,
    ConfigurationError,
    ConnectOptions,
    ProtocolError,
    RealtimeChannel,
    RealtimeConnection,
    RealtimeModel,
    SessionConfig,
    TokenCredential,
    TransportStatus,
    UrlCredential,
    credential_from_json,
    credential_to_json,
)


def test_the_vocabulary_has_the_designed_size_and_unique_kinds() -> None:
    client = [t.kind for t in CLIENT_EVENT_TYPES]
    server = [t.kind for t in SERVER_EVENT_TYPES]
    assert len(set(client)) == len(client) == 12
    assert len(set(server)) == len(server) == 25
    assert "tool.result" in client and "response.interrupted" in server


@pytest.mark.parametrize("cls", [*CLIENT_EVENT_TYPES, *SERVER_EVENT_TYPES])
def test_kind_is_a_class_constant_not_a_field(cls: type) -> None:
    assert "kind" not in {f.name for f in dataclasses.fields(cls)}
    assert "kind" not in inspect.signature(cls).parameters
    assert isinstance(cls.kind, str)  # type: ignore[attr-defined]


def test_server_events_are_plain_values() -> None:
    event = AudioOutputDelta("resp_1", "item_1", "AAAA", 0)
    assert event.kind == AudioOutputDelta.kind == "audio.output.delta"
    assert event == AudioOutputDelta("resp_1", "item_1", "AAAA")
    assert not hasattr(event, "__dict__")  # slotted
    assert dataclasses.replace(event, item_id="item_2").item_id == "item_2"
    assert dataclasses.asdict(event) == {
        "response_id": "resp_1",
        "item_id": "item_1",
        "audio_b64": "AAAA",
        "content_index": 0,
        "_audio": None,  # the bytes of an event made by from_bytes, kept to skip decoding
    }


def test_audio_made_from_bytes_keeps_them_and_a_replaced_copy_decodes_its_own() -> None:
    event = AudioOutputDelta.from_bytes("resp_1", "item_1", b"\x01\x02\x03")
    assert event.audio_b64 == "AQID" and event.audio == b"\x01\x02\x03"
    assert event == AudioOutputDelta("resp_1", "item_1", "AQID")
    changed = dataclasses.replace(event, audio_b64="BAUG")
    assert changed.audio == b"\x04\x05\x06"


def test_transport_status_values_are_the_seeds() -> None:
    assert [s.value for s in TransportStatus] == [
        "disconnected",
        "connecting",
        "connected",
        "reconnecting",
        "closed",
    ]
    assert TransportStatus.CONNECTED == "connected"


@pytest.mark.parametrize(
    "expires",
    [
        "2030-05-01T12:00:00Z",
        "2030-05-01T12:00:00+00:00",
        "2030-05-01T14:00:00+02:00",
        datetime(2030, 5, 1, 12, tzinfo=UTC),
        datetime(2030, 5, 1, 12),  # naive: taken as UTC
        datetime(2030, 5, 1, 7, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_credential_accepts_datetime_or_iso_string(expires: object) -> None:
    credential = credential_from_json({"kind": "token", "token": "ek_1", "expiresAt": expires})
    assert isinstance(credential, TokenCredential)
    assert credential.expires_at == datetime(2030, 5, 1, 12, tzinfo=UTC)


def test_credential_json_round_trip() -> None:
    token = TokenCredential("ek_1", datetime(2030, 5, 1, 12, tzinfo=UTC))
    as_json = json.loads(json.dumps(credential_to_json(token)))
    assert as_json == {"kind": "token", "token": "ek_1", "expiresAt": "2030-05-01T12:00:00Z"}
    assert credential_from_json(as_json) == token
    url = UrlCredential("wss://signed/abc", datetime(2030, 5, 1, tzinfo=UTC))
    assert credential_from_json(credential_to_json(url)) == url
    # the envelope a credential endpoint answers with
    assert credential_from_json({"credential": as_json}) == token


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "token", "token": "x"}, "needs expiresAt"),
        ({"kind": "token", "token": "x", "expiresAt": "next tuesday"}, "not an ISO 8601"),
        ({"kind": "token", "token": 5, "expiresAt": "2030-01-01"}, "string 'token'"),
        ({"kind": "magic", "expiresAt": "2030-01-01"}, "unknown credential kind 'magic'"),
        ({"kind": "token", "token": "", "expiresAt": "2030-01-01"}, "non-empty token"),
        ({"kind": "token", "token": "x", "expiresAt": True}, "datetime or ISO"),
    ],
)
def test_bad_credentials_are_specific(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        credential_from_json(data)


def test_credentials_never_print_their_secret() -> None:
    token = TokenCredential("ek_supersecret", datetime(2030, 1, 1, tzinfo=UTC))
    assert "supersecret" not in repr(token) and "supersecret" not in str(token)


def test_expiry() -> None:
    past = TokenCredential("t", datetime.now(UTC) - timedelta(seconds=1))
    future = TokenCredential("t", datetime.now(UTC) + timedelta(minutes=1))
    assert past.is_expired() and not future.is_expired()


def test_audio_formats() -> None:
    assert AudioFormat().bytes_per_second == 48_000
    assert AudioFormat.pcmu().encoding == "pcmu" and AudioFormat.pcmu().bytes_per_second == 8000
    assert AudioFormat.pcma().encoding == "pcma"
    assert AudioFormat("audio/x-mulaw", 8000, 8).encoding == "pcmu"
    with pytest.raises(ValueError, match="unsupported audio mime type 'audio/mp3'"):
        AudioFormat("audio/mp3")
    with pytest.raises(ValueError, match="8-bit samples"):
        AudioFormat("audio/pcmu", 8000, 16)
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        AudioFormat.pcm16(0)


def test_audio_delta_decodes_lazily_and_reports_bad_base64() -> None:
    good = AudioOutputDelta.from_bytes("r", "i", b"\x01\x02")
    assert good.audio == b"\x01\x02"
    bad = AudioOutputDelta("r", "i", "!!!")
    with pytest.raises(ProtocolError, match="invalid base64 audio"):
        _ = bad.audio


def test_the_shipped_classes_satisfy_the_interfaces() -> None:
    from voicewire.providers import openai

    model = openai.realtime(api_key="k")
    assert isinstance(model, RealtimeModel)
    assert RealtimeConnection is not RealtimeChannel


def test_the_initial_session_lays_connect_provider_options_over_the_configs() -> None:
    config = SessionConfig(instructions="Hi.", provider_options={"a": 1, "b": 2})
    assert ConnectOptions().initial_session() is None
    assert ConnectOptions(session_config=config).initial_session() is config
    merged = ConnectOptions(session_config=config, provider_options={"b": 3, "c": 4})
    assert merged.initial_session() == replace(config, provider_options={"a": 1, "b": 3, "c": 4})
