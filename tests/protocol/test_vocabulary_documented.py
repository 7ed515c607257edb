"""The neutral vocabulary documents itself (issue 10, item 3): every event, item and config
dataclass in ``voicewire.protocol`` has a docstring, and so does every one of its fields, as an
attribute docstring (a string right under the field) that IDEs show on hover.

The source is read with ``ast`` because a dataclass without a docstring still has ``__doc__``
(its generated signature), and attribute docstrings exist only in the source.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from types import ModuleType

import pytest

from voicewire.protocol import (
    CLIENT_EVENT_TYPES,
    SERVER_EVENT_TYPES,
    config,
    events,
    interfaces,
    items,
)

VOCABULARY_MODULES = (events, items, config, interfaces)


def _dataclasses(module: ModuleType) -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and dataclasses.is_dataclass(cls)
    ]


VOCABULARY = [cls for module in VOCABULARY_MODULES for cls in _dataclasses(module)]


def _class_node(cls: type) -> ast.ClassDef:
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    assert isinstance(node, ast.ClassDef)
    return node


def _is_docstring(statement: ast.stmt | None) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
        and bool(statement.value.value.strip())
    )


def _documented_fields(node: ast.ClassDef) -> set[str]:
    """Names of the annotated fields that a string literal directly follows."""
    documented: set[str] = set()
    body = node.body
    for statement, following in zip(body, [*body[1:], None], strict=True):
        target = statement.target if isinstance(statement, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and _is_docstring(following):
            documented.add(target.id)
    return documented


def test_the_walk_sees_every_event() -> None:
    """Guards the walk itself: a class it missed would never be checked."""
    assert set(CLIENT_EVENT_TYPES) | set(SERVER_EVENT_TYPES) <= set(VOCABULARY)
    assert {items.MessageItem, items.ToolCallItem, items.ToolResultItem} <= set(VOCABULARY)
    assert {items.TextPart, items.AudioPart, events.Usage} <= set(VOCABULARY)
    assert {config.SessionConfig, interfaces.PlaybackPosition} <= set(VOCABULARY)


@pytest.mark.parametrize("cls", VOCABULARY, ids=lambda cls: cls.__name__)
def test_class_has_a_docstring(cls: type) -> None:
    node = _class_node(cls)
    assert _is_docstring(node.body[0]), f"{cls.__module__}.{cls.__name__} has no docstring"


@pytest.mark.parametrize("cls", VOCABULARY, ids=lambda cls: cls.__name__)
def test_every_field_has_an_attribute_docstring(cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    undocumented = sorted(fields - _documented_fields(_class_node(cls)))
    assert not undocumented, (
        f"{cls.__module__}.{cls.__name__}: no docstring under the field(s) {undocumented}; "
        "say what each is, in which unit, relative to what"
    )
