"""Naming JSON values in error messages, for the readers of OpenAI-protocol messages on both sides
(the provider codec reading server events, the server reading client events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["MISSING", "describe"]

MISSING: Final = object()
"""What ``message.get(key, MISSING)`` gives for an absent field (``None`` is JSON's null)."""


def describe(value: object) -> str:
    """A short phrase for a JSON value that was not what a field needs."""
    if value is MISSING:
        return "nothing (the field is missing)"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"{type(value).__name__} {value!r}"[:80]
