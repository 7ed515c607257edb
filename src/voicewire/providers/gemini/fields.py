"""Reading fields of Gemini server messages: lenient about what is absent or new, precise about
what is malformed (a :class:`~voicewire.protocol.ProtocolError` names the path and what was
there instead)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...protocol import ProtocolError, Usage

__all__ = ["as_list", "as_object", "duration_seconds", "optional_str", "usage_from"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_object(value: object, path: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or a ProtocolError naming ``path``."""
    if not isinstance(value, Mapping):
        raise ProtocolError(f"gemini {path} must be an object, got {_shown(value)}")
    return value


def as_list(value: object, path: str) -> list[Any]:
    """``value`` as a JSON array (absent: empty), or a ProtocolError naming ``path``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"gemini {path} must be an array, got {_shown(value)}")
    return value


def optional_str(value: object, path: str) -> str | None:
    """``value`` as a string or ``None``, or a ProtocolError naming ``path``."""
    if value is None or isinstance(value, str):
        return value
    raise ProtocolError(f"gemini {path} must be a string, got {_shown(value)}")


def duration_seconds(value: object, path: str) -> float:
    """A protobuf Duration in its JSON form (``"50s"``, ``"1.5s"``) as seconds."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ProtocolError(f"gemini {path} must be a duration such as '50s', got {_shown(value)}")
    return float(match.group(1))


def _count(data: Mapping[str, Any], key: str, path: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"gemini {path}.{key} must be a token count, got {_shown(value)}")
    return value


def _by_modality(details: object, path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for index, entry in enumerate(as_list(details, path)):
        entry = as_object(entry, f"{path}[{index}]")
        modality = optional_str(entry.get("modality"), f"{path}[{index}].modality") or ""
        counts[modality] = counts.get(modality, 0) + _count(entry, "tokenCount", path)
    return counts


def usage_from(data: object) -> Usage:
    """``usageMetadata`` as neutral :class:`~voicewire.protocol.Usage` (thinking tokens count as
    output; cached tokens as cached input)."""
    path = "usageMetadata"
    usage = as_object(data, path)
    prompt = _count(usage, "promptTokenCount", path)
    output = _count(usage, "responseTokenCount", path) + _count(usage, "thoughtsTokenCount", path)
    total = _count(usage, "totalTokenCount", path) or prompt + output
    inputs = _by_modality(usage.get("promptTokensDetails"), f"{path}.promptTokensDetails")
    outputs = _by_modality(usage.get("responseTokensDetails"), f"{path}.responseTokensDetails")
    return Usage(
        input_tokens=prompt,
        output_tokens=output,
        total_tokens=total,
        input_audio_tokens=inputs.get("AUDIO", 0),
        input_text_tokens=inputs.get("TEXT", 0),
        input_cached_tokens=_count(usage, "cachedContentTokenCount", path),
        output_audio_tokens=outputs.get("AUDIO", 0),
        output_text_tokens=outputs.get("TEXT", 0),
    )
