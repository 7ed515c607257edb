"""Audio base64 (pybase64 underneath): the standard alphabet, strictly, with errors that say what
is wrong."""

from __future__ import annotations

import base64
import os

import pytest

from voicewire.protocol import ProtocolError
from voicewire.protocol.base64_audio import b64decode_strict, decode_base64, encode_base64


@pytest.mark.parametrize("size", [*range(0, 9), 959, 960, 961, 4800])
def test_round_trip_matches_the_standard_library(size: int) -> None:
    data = os.urandom(size)
    text = encode_base64(data)
    assert text == base64.b64encode(data).decode("ascii")
    assert b64decode_strict(text) == data


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("YWJ", "Incorrect padding"),
        ("YW Jj", "Only base64 data is allowed"),
        ("YWJj\n", "Only base64 data is allowed"),
        ("-_-_", "Only base64 data is allowed"),
        ("YQ==YQ==", "Excess data after padding"),
        ("YWJj====", "Excess padding"),  # the standard library would accept this one
        ("YWJjé", "only ASCII"),
    ],
)
def test_invalid_text_is_refused_with_the_reason(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        b64decode_strict(bad)
    with pytest.raises(ProtocolError, match=reason):
        decode_base64(bad)
