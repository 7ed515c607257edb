"""What the fake realtime server answers: scripted replies chosen by substring rules.

A :class:`Script` maps case-insensitive substrings of the latest user text to replies::

    script.on("weather", ToolCallReply("get_weather", {"city": "Paris"},
                                       then=AudioReply("It is sunny.")))
    script.default = TextReply("ok")
    script.input_transcript = "what's the weather in paris"

Rules are tried in the order they were added; the first whose substring occurs in the latest user
text wins, otherwise :attr:`Script.default` answers. After a tool call, when the latest
conversation item is the ``function_call_output`` for a call a :class:`ToolCallReply` issued,
the answer is that reply's ``then`` (or :attr:`Script.default` when ``then`` is ``None``).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = ["AudioReply", "Reply", "Script", "TextReply", "ToolCallReply"]

_MAX_DURATION_MS = 10 * 60 * 1000
_MAX_PACE_S = 10.0


@dataclass(frozen=True, slots=True)
class TextReply:
    """Answer with text only: ``response.output_text.delta`` words (xAI: ``response.text.delta``).

    ``pace`` is the number of seconds to sleep between word deltas (0 = as fast as possible).
    """

    text: str
    pace: float = 0.0

    def __post_init__(self) -> None:
        _check_pace(self.pace)


@dataclass(frozen=True, slots=True)
class AudioReply:
    """Answer with speech: a deterministic tone of ``duration_ms`` plus its ``transcript``.

    Audio goes out as ``response.output_audio.delta`` chunks of ``chunk_ms`` in the session's (or
    the response's) output format, with ``response.output_audio_transcript.delta`` words spread
    over the chunks. ``pace`` is the number of seconds to sleep between chunks: ``0.0`` streams as
    fast as possible, ``chunk_ms / 1000`` streams in real time (so a test can barge in). When the
    output modalities are ``["text"]`` the transcript is sent as text instead.
    """

    transcript: str
    duration_ms: int = 600
    chunk_ms: int = 20
    pace: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.duration_ms <= _MAX_DURATION_MS:
            raise ValueError(f"duration_ms must be within 1..{_MAX_DURATION_MS}")
        if not 0 < self.chunk_ms <= 10_000:
            raise ValueError("chunk_ms must be within 1..10000")
        _check_pace(self.pace)


@dataclass(frozen=True, slots=True)
class ToolCallReply:
    """Answer with a function call; ``then`` answers once the client returns its output.

    ``arguments`` is a mapping (sent as compact JSON) or a ready JSON string. ``call_id`` is
    assigned by the server (``call_...``) unless given.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    then: Reply | None = None
    call_id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments exactly as they go on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


Reply: TypeAlias = TextReply | AudioReply | ToolCallReply
"""Any scripted reply."""


class Script:
    """Substring rules, a default reply, and what the fake "hears" in user audio.

    Attributes:
        rules: ``(substring, reply)`` pairs in the order they are tried.
        default: the reply when no rule matches (initially ``AudioReply("Okay.")``).
        input_transcript: the transcript of every user audio turn, unless queued with
            :meth:`hear`.
    """

    def __init__(self) -> None:
        self.rules: list[tuple[str, Reply]] = []
        self.default: Reply = AudioReply("Okay.")
        self.input_transcript: str = "hello"
        self._heard: deque[str] = deque()

    def on(self, contains: str, reply: Reply) -> Script:
        """Answer ``reply`` when the latest user text contains ``contains`` (case-insensitive).

        Returns the script, so calls can be chained.
        """
        if not contains:
            raise ValueError("the substring must not be empty")
        self.rules.append((contains, reply))
        return self

    def hear(self, *transcripts: str) -> Script:
        """Queue transcripts for the next user audio turns, one per turn, in order.

        When the queue is empty, :attr:`input_transcript` is used.
        """
        self._heard.extend(transcripts)
        return self

    def choose(self, user_text: str | None) -> Reply:
        """The reply for ``user_text``: the first matching rule, else :attr:`default`."""
        if user_text:
            lowered = user_text.casefold()
            for contains, reply in self.rules:
                if contains.casefold() in lowered:
                    return reply
        return self.default

    def next_transcript(self) -> str:
        """What the fake hears in the user audio turn being committed now."""
        return self._heard.popleft() if self._heard else self.input_transcript


def _check_pace(pace: float) -> None:
    if not 0.0 <= pace <= _MAX_PACE_S:
        raise ValueError(f"pace must be within 0..{_MAX_PACE_S} seconds")
