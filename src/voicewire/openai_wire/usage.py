"""Token usage (``response.done``'s ``response.usage``) on the OpenAI Realtime wire, both ways.

:func:`decode_usage` is the client codec reading a provider's usage; :func:`encode_usage` is the
server writing one for its clients. GA omits zero counts and whole detail objects, which read as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from voicewire.protocol import ProtocolError, Usage

from .fields import FieldReader

__all__ = ["decode_usage", "encode_usage"]

_NO_DETAILS: Final[Mapping[str, Any]] = MappingProxyType({})


def decode_usage(response: Mapping[str, Any], fields: FieldReader[ProtocolError]) -> Usage | None:
    """The usage of a server's ``response`` object, or ``None`` when it has none."""
    usage = fields.opt_mapping(response, "usage", "response.usage")
    if usage is None:
        return None
    get = usage.get
    inputs = get("input_token_details") or _NO_DETAILS
    outputs = get("output_token_details") or _NO_DETAILS
    if isinstance(inputs, Mapping) and isinstance(outputs, Mapping):
        counts = (
            get("input_tokens", 0),
            get("output_tokens", 0),
            get("total_tokens", 0),
            inputs.get("audio_tokens", 0),
            inputs.get("text_tokens", 0),
            inputs.get("cached_tokens", 0),
            outputs.get("audio_tokens", 0),
            outputs.get("text_tokens", 0),
        )
        if all(count.__class__ is int for count in counts):
            return Usage(*counts)
    return _decode_carefully(usage, fields)


def _decode_carefully(usage: Mapping[str, Any], fields: FieldReader[ProtocolError]) -> Usage:
    """The slow path: nulls, ``int`` subclasses, or a malformed count (the error names it)."""
    where = "response.usage."
    in_where = where + "input_token_details"
    out_where = where + "output_token_details"
    inputs = fields.opt_mapping(usage, "input_token_details", in_where) or _NO_DETAILS
    outputs = fields.opt_mapping(usage, "output_token_details", out_where) or _NO_DETAILS

    def count(obj: Mapping[str, Any], key: str, path: str) -> int:
        value = obj.get(key)
        if value is None:
            return 0
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fields.wrong(f"{path}{key}", "an integer", value)

    return Usage(
        input_tokens=count(usage, "input_tokens", where),
        output_tokens=count(usage, "output_tokens", where),
        total_tokens=count(usage, "total_tokens", where),
        input_audio_tokens=count(inputs, "audio_tokens", in_where + "."),
        input_text_tokens=count(inputs, "text_tokens", in_where + "."),
        input_cached_tokens=count(inputs, "cached_tokens", in_where + "."),
        output_audio_tokens=count(outputs, "audio_tokens", out_where + "."),
        output_text_tokens=count(outputs, "text_tokens", out_where + "."),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    """``usage`` as the server writes it in ``response.done`` (every count, zeros included)."""
    return {
        "total_tokens": usage.total_tokens,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "input_token_details": {
            "text_tokens": usage.input_text_tokens,
            "audio_tokens": usage.input_audio_tokens,
            "cached_tokens": usage.input_cached_tokens,
        },
        "output_token_details": {
            "text_tokens": usage.output_text_tokens,
            "audio_tokens": usage.output_audio_tokens,
        },
    }
