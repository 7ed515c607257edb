"""Origin policy, handshake credentials and log redaction."""

from __future__ import annotations

import logging
import sys

import pytest

from voicewire.server import OriginPolicy, RedactingFilter, redact
from voicewire.server.security import bearer_token, select_subprotocol, subprotocol_token


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        (None, None, True),  # not a browser
        (None, "http://app.test:8000", True),  # same origin
        (None, "HTTP://APP.test:8000/", True),
        (None, "http://app.test:8001", False),
        (None, "https://app.test:8000", False),
        (None, "null", False),
        (None, "not a url", False),
        (["https://www.example.com"], "https://www.example.com:443", True),
        (["https://www.example.com"], "https://evil.example.com", False),
        (["https://www.example.com"], "http://app.test:8000", True),  # same origin still
        (["*"], "https://anything.example", True),
        (["null"], "null", True),
    ],
)
def test_origin_policy(allowed: list[str] | None, origin: str | None, expected: bool) -> None:
    policy = OriginPolicy(allowed)
    assert policy.allows(origin, scheme="http", host="app.test:8000") is expected


def test_same_origin_over_websocket_schemes() -> None:
    assert OriginPolicy().allows("https://app.test", scheme="wss", host="app.test")
    assert not OriginPolicy().allows("http://app.test", scheme="wss", host="app.test")


def test_credentials_from_the_handshake() -> None:
    assert bearer_token(["Basic abc", "Bearer  tok.en "]) == "tok.en"
    assert bearer_token(["Bearer"]) is None
    assert subprotocol_token(["realtime", "openai-insecure-api-key.vw1.a.b"]) == "vw1.a.b"
    assert subprotocol_token(["openai-insecure-api-key."]) is None
    assert select_subprotocol(["openai-insecure-api-key.x", "realtime"]) == "realtime"
    assert select_subprotocol(["openai-insecure-api-key.x"]) is None


def test_redaction() -> None:
    text = (
        "authorization: Bearer vw1.abc.def; key sk-proj-123456789; xai-abcdefghij; "
        "sec-websocket-protocol: realtime, openai-insecure-api-key.ek_secretsecret"
    )
    cleaned = redact(text)
    for secret in ("vw1.abc.def", "sk-proj-123456789", "xai-abcdefghij", "ek_secretsecret"):
        assert secret not in cleaned
    assert "authorization: Bearer ***" in cleaned
    assert redact("nothing to hide, ask-me later") == "nothing to hide, ask-me later"


def test_redacting_filter() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "< %s: %s",
        ("authorization", "Bearer sk-live-12345678"),
        None,
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "< authorization: Bearer ***"


def test_redaction_of_any_credential_header_and_token_subprotocol() -> None:
    assert redact("> Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.tok123") == (
        "> Sec-WebSocket-Protocol: realtime, ***"
    )
    assert redact("protocols acme-client-secret.tok123, x") == "protocols ***, x"
    assert redact("> Authorization: Basic dXNlcjpwYXNz") == "> Authorization: Basic ***"
    assert redact("> Authorization: s3cr3t") == "> Authorization: ***"
    assert redact("> xi-api-key: k3y-value") == "> xi-api-key: ***"


def test_redacting_filter_masks_a_traceback_too() -> None:
    try:
        raise RuntimeError("refused key sk-live-12345678")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert RedactingFilter().filter(record)
    assert record.exc_text is not None and "RuntimeError: refused key ***" in record.exc_text
    assert "sk-live" not in logging.Formatter().format(record)
