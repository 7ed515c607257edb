"""The streaming reader of a JSON reply: an answer spoken while it is still being decoded, or a
tool call once the reply is complete."""

from __future__ import annotations

import json
import logging
import re
from typing import Literal

from .interface import ToolCallRequest

log = logging.getLogger("voicewire.local.llm")


class JsonReplyParser:
    """Reads a streamed ``{"answer": ...}`` / ``{"tool": ..., "arguments": ...}`` reply.

    ``feed`` returns the new characters of the answer string as they arrive (so speech can start
    before the JSON is complete); ``finish`` returns the tool call, if the reply was one.
    """

    _KEY = re.compile(r'^\s*\{\s*"(answer|tool|arguments)"\s*:\s*')

    def __init__(self) -> None:
        self.raw = ""
        self.kind: Literal["answer", "tool"] | None = None
        self._answer_start: int | None = None
        self._pos = 0
        self._done = False

    def feed(self, text: str) -> str:
        self.raw += text
        if self.kind is None:
            match = self._KEY.match(self.raw)
            if match is None:
                return ""
            self.kind = "answer" if match.group(1) == "answer" else "tool"
            if self.kind == "answer":
                self._pos = match.end()
        if self.kind != "answer" or self._done:
            return ""
        if self._answer_start is None:
            while self._pos < len(self.raw) and self.raw[self._pos].isspace():
                self._pos += 1
            if self._pos >= len(self.raw):
                return ""
            if self.raw[self._pos] != '"':
                self._done = True
                return ""
            self._answer_start = self._pos = self._pos + 1
        out: list[str] = []
        raw = self.raw
        while self._pos < len(raw):
            ch = raw[self._pos]
            if ch == '"':
                self._done = True
                break
            if ch == "\\":
                decoded, used = _json_escape(raw, self._pos)
                if used == 0:
                    break  # escape not complete yet
                out.append(decoded)
                self._pos += used
                continue
            out.append(ch)
            self._pos += 1
        return "".join(out)

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


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_escape(raw: str, pos: int) -> tuple[str, int]:
    """Decode the escape at ``raw[pos]`` (a backslash): ``(text, chars used)``, 0 if partial."""
    if pos + 1 >= len(raw):
        return "", 0
    code = raw[pos + 1]
    if code == "u":
        if pos + 6 > len(raw):
            return "", 0
        try:
            return chr(int(raw[pos + 2 : pos + 6], 16)), 6
        except ValueError:
            return "", 6
    return _ESCAPES.get(code, code), 2
