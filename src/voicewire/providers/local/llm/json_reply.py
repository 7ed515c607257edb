"""The streaming reader of a JSON reply: an answer spoken while it is still being decoded, or a
tool call once the reply is complete."""

from __future__ import annotations

import json
import logging
import re
from typing import Literal

from pydantic_core import from_json

from .interface import ToolCallRequest

log = logging.getLogger("voicewire.local.llm")


class JsonReplyParser:
    """Reads a streamed ``{"answer": ...}`` / ``{"tool": ..., "arguments": ...}`` reply.

    ``feed`` returns the new characters of the answer string as they arrive (so speech can start
    before the JSON is complete); ``finish`` returns the tool call, if the reply was one.

    The answer is decoded by pydantic-core's partial JSON parser, re-run on the whole reply at each
    feed (a reply is a few hundred characters): it leaves out an escape that has only half arrived,
    a surrogate pair included, so every piece returned is whole text that encodes to UTF-8.
    """

    _KEY = re.compile(r'^\s*\{\s*"(answer|tool|arguments)"\s*:\s*')

    def __init__(self) -> None:
        self.raw = ""
        self.kind: Literal["answer", "tool"] | None = None
        self._spoken = ""
        self._done = False

    def feed(self, text: str) -> str:
        self.raw += text
        if self.kind is None:
            match = self._KEY.match(self.raw)
            if match is None:
                return ""
            self.kind = "answer" if match.group(1) == "answer" else "tool"
        if self.kind != "answer" or self._done:
            return ""
        try:
            reply = from_json(self.raw, allow_partial="trailing-strings")
        except ValueError:
            # The grammar keeps the reply JSON; a lone surrogate escape can still end it here.
            log.warning("the model's answer is not valid JSON: %r", self.raw[-40:])
            self._done = True
            return ""
        answer = reply.get("answer") if isinstance(reply, dict) else None
        if answer is None:
            return ""  # the value has not started yet
        if not isinstance(answer, str) or not answer.startswith(self._spoken):
            self._done = True
            return ""
        new = answer[len(self._spoken) :]
        self._spoken = answer
        return new

    def finish(self) -> ToolCallRequest | None:
        if self.kind != "tool":
            return None
        try:
            data = json.loads(self.raw)
        except json.JSONDecodeError:
            log.warning("the model's tool call is not valid JSON: %r", self.raw[:200])
            return None
        if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
            return None
        arguments = data.get("arguments", {})
        if not isinstance(arguments, dict):
            arguments = {}
        return ToolCallRequest(data["tool"], json.dumps(arguments, separators=(",", ":")))
