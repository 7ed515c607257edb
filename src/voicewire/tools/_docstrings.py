"""Just enough docstring parsing for tool descriptions: the summary paragraph, and parameter
descriptions from a Google-style ``Args:`` section (or Sphinx ``:param x:`` fields)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_ARGS_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
)
_OTHER_SECTIONS = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "examples",
        "example",
        "note",
        "notes",
        "attributes",
        "see also",
        "warning",
        "warnings",
        "todo",
        "references",
    }
)
_SECTION_RE = re.compile(r"^([A-Za-z][A-Za-z ]*):$")
# "name (type): description", "name: description", "*args: description"
_ENTRY_RE = re.compile(r"^\*{0,2}(?P<name>\w+)\s*(?:\([^)]*\))?\s*:(?:\s+(?P<desc>.*))?$")
_SPHINX_RE = re.compile(r"^:param\s+(?:[^:]*\s)?(?P<name>\w+)\s*:(?:\s*(?P<desc>.*))?$")


@dataclass(frozen=True)
class ParsedDocstring:
    summary: str = ""
    params: dict[str, str] = field(default_factory=dict)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _section_name(line: str) -> str | None:
    match = _SECTION_RE.match(line.strip())
    if match is None:
        return None
    name = match.group(1).lower()
    return name if name in _ARGS_SECTIONS or name in _OTHER_SECTIONS else None


def parse_docstring(doc: str | None) -> ParsedDocstring:
    if not doc:
        return ParsedDocstring()
    lines = inspect.cleandoc(doc).splitlines()

    summary: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or _section_name(line) or stripped.startswith(":"):
            break
        summary.append(stripped)

    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if _section_name(line) in _ARGS_SECTIONS:
            i = _parse_args_section(lines, i, params)
            continue
        sphinx = _SPHINX_RE.match(line.strip())
        if sphinx is not None:
            parts = [sphinx.group("desc") or ""]
            base = _indent(line)
            i += 1
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) > base:
                parts.append(lines[i].strip())
                i += 1
            params[sphinx.group("name")] = " ".join(p for p in parts if p)
            continue
        i += 1
    return ParsedDocstring(" ".join(summary), params)


def _parse_args_section(lines: list[str], header: int, params: dict[str, str]) -> int:
    """Parse the entries under ``lines[header]``; returns the index of the first line after."""
    header_indent = _indent(lines[header])
    entry_indent: int | None = None
    current: str | None = None
    parts: list[str] = []

    def flush() -> None:
        if current is not None:
            params[current] = " ".join(p for p in parts if p)

    i = header + 1
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = _indent(line)
        if indent <= header_indent:
            break
        if entry_indent is None:
            entry_indent = indent
        match = _ENTRY_RE.match(line.strip()) if indent <= entry_indent else None
        if match is not None:
            flush()
            current, parts = match.group("name"), [match.group("desc") or ""]
        elif current is not None:
            parts.append(line.strip())
        i += 1
    flush()
    return i
