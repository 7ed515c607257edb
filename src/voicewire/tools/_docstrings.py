"""Tool descriptions from docstrings: the summary paragraph and each parameter's description.

Parsing is docstring-parser's (Google, Sphinx/reST, NumPy and Epydoc styles). Its automatic
style choice is repeated here for one reason: its Google parser is given the ``Keyword Args:``
sections too, which napoleon accepts and the former hand-written parser read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from docstring_parser import Docstring, ParseError, epydoc, numpydoc, rest
from docstring_parser.google import DEFAULT_SECTIONS, GoogleParser, Section, SectionType

_GOOGLE = GoogleParser(
    [
        *DEFAULT_SECTIONS,
        Section("Keyword Args", "param", SectionType.MULTIPLE),
        Section("Keyword Arguments", "param", SectionType.MULTIPLE),
    ]
)
_STYLES: tuple[Callable[[str], Docstring], ...] = (
    rest.parse,
    _GOOGLE.parse,
    numpydoc.parse,
    epydoc.parse,
)


@dataclass(frozen=True)
class ParsedDocstring:
    summary: str = ""
    """The first paragraph, its lines joined by single spaces."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameter name to its description (whitespace collapsed), in docstring order."""


def _parse(doc: str) -> Docstring | None:
    """The reading with the most sections' entries, as ``docstring_parser.parse`` chooses."""
    readings: list[Docstring] = []
    for parse in _STYLES:
        try:
            readings.append(parse(doc))
        except ParseError:
            continue
    return max(readings, key=lambda reading: len(reading.meta), default=None)


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Never raises: a docstring no style can read gives its first paragraph and no params."""
    if not doc:
        return ParsedDocstring()
    parsed = _parse(doc)
    if parsed is None:
        return ParsedDocstring(_squash(doc.strip().split("\n\n", 1)[0]))
    summary = _squash((parsed.description or "").split("\n\n", 1)[0])
    params = {param.arg_name.lstrip("*"): _squash(param.description) for param in parsed.params}
    return ParsedDocstring(summary, params)
