"""TwiML for <Connect><Stream> and the X-Twilio-Signature check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET

import pytest
from starlette.datastructures import FormData

from voicewire.channels import twiml_connect_stream, validate_twilio_signature
from voicewire.channels.twilio import twilio_signature
from voicewire.protocol import ConfigurationError

# -- TwiML ------------------------------------------------------------------------------------


def test_connect_stream_twiml() -> None:
    assert twiml_connect_stream("wss://example.com/media") == (
        '<Response><Connect><Stream url="wss://example.com/media"/></Connect></Response>'
    )
    assert twiml_connect_stream("wss://example.com/media", parameters={"agent": "desk"}) == (
        '<Response><Connect><Stream url="wss://example.com/media">'
        '<Parameter name="agent" value="desk"/></Stream></Connect></Response>'
    )


def test_everything_is_escaped() -> None:
    tricky = {
        'a"b': "x & y < z > w",
        "quote": 'it\'s "quoted"',
        "lines": "one\ntwo\tthree\r",
        "inject": '"/><Hangup/><Parameter name="x',
        "unicode": "café ☎",
    }
    xml = twiml_connect_stream("wss://example.com/media/a&b", parameters=tricky)
    assert "<Hangup" not in xml.replace("&lt;Hangup", "")
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    (connect,) = list(root)
    (stream,) = list(connect)
    assert stream.tag == "Stream" and stream.get("url") == "wss://example.com/media/a&b"
    assert [p.tag for p in stream] == ["Parameter"] * len(tricky)
    assert {p.get("name"): p.get("value") for p in stream} == tricky  # round-trips exactly


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://example.com/media", "wss://"),
        ("ws://example.com/media", "wss://"),
        ("/media", "wss://"),
        ("wss://example.com/media?agent=desk", "query string"),
    ],
)
def test_bad_stream_urls(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        twiml_connect_stream(url)


def test_characters_xml_cannot_carry() -> None:
    with pytest.raises(ConfigurationError, match="control character"):
        twiml_connect_stream("wss://example.com/m", parameters={"x": "bell\x07"})
    with pytest.raises(ConfigurationError, match="non-empty name"):
        twiml_connect_stream("wss://example.com/m", parameters={"": "v"})


# -- signatures -------------------------------------------------------------------------------

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def documented_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm as documented: the URL, then each POST parameter's name and value
    sorted by name, no separators; HMAC-SHA1 keyed with the auth token; base64."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_valid_signature() -> None:
    expected = documented_signature(TOKEN, URL, PARAMS)
    assert expected == "RSOYDt4T1cUTdK1PDd93/VVr8B8="  # the example in Twilio's docs and SDKs
    assert twilio_signature(TOKEN, URL, PARAMS) == expected
    assert validate_twilio_signature(TOKEN, URL, PARAMS, expected)
    assert validate_twilio_signature(TOKEN, URL, list(PARAMS.items()), expected)


@pytest.mark.parametrize(
    ("token", "url", "params"),
    [
        ("54321", URL, PARAMS),
        (TOKEN, URL.replace("foo=1", "foo=2"), PARAMS),
        (TOKEN, URL.replace("https", "http"), PARAMS),
        (TOKEN, URL, {**PARAMS, "Digits": "1235"}),
        (TOKEN, URL, {**PARAMS, "Extra": "1"}),
        (TOKEN, URL, {k: v for k, v in PARAMS.items() if k != "To"}),
    ],
    ids=["token", "query", "scheme", "value", "added", "removed"],
)
def test_invalid_signature(token: str, url: str, params: dict[str, str]) -> None:
    signature = documented_signature(TOKEN, URL, PARAMS)
    assert not validate_twilio_signature(token, url, params, signature)


def test_malformed_signatures() -> None:
    good = documented_signature(TOKEN, URL, PARAMS)
    for bad in ["", None, good[:-1], good + "x", "é" * 28]:
        assert not validate_twilio_signature(TOKEN, URL, PARAMS, bad)


def test_ports_are_tried_both_ways() -> None:
    # Twilio may sign with or without the port: with an explicit port, the URL without it...
    with_port = URL.replace(".com", ".com:1234")
    assert validate_twilio_signature(TOKEN, with_port, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    # ...and without one, the URL with the scheme's default port (vectors of Twilio's SDK).
    assert validate_twilio_signature(TOKEN, URL, PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=")
    http = URL.replace("https", "http")
    assert validate_twilio_signature(TOKEN, http, PARAMS, "0ZXoZLH/DfblKGATFgpif+LLRf4=")


def test_repeated_parameters() -> None:
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU="  # Twilio SDK vector: values sorted per name
    assert validate_twilio_signature(TOKEN, URL, pairs, expected)
    assert validate_twilio_signature(TOKEN, URL, FormData(pairs), expected)  # Starlette's form
    as_lists = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234"]}
    assert validate_twilio_signature(TOKEN, URL, as_lists, expected)
    assert not validate_twilio_signature(TOKEN, URL, pairs[:-1], expected)


def test_json_body_with_its_hash_in_the_url() -> None:
    body = '{"property": "value", "boolean": true}'
    digest = hashlib.sha256(body.encode()).hexdigest()
    url = f"{URL}&bodySHA256={digest}"
    signature = documented_signature(TOKEN, url, {})
    assert signature == "a9nBmqA0ju/hNViExpshrM61xv4="  # Twilio SDK vector
    assert validate_twilio_signature(TOKEN, url, body, signature)
    assert validate_twilio_signature(TOKEN, url, body.encode(), signature)
    assert not validate_twilio_signature(TOKEN, url, body + " ", signature)  # body changed
    assert not validate_twilio_signature(TOKEN, URL, body, documented_signature(TOKEN, URL, {}))
