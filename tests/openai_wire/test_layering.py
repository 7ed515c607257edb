"""The wire package sits below both of its users: the providers (client side) and the server
(server side) import it, it imports nothing of either (nor any private module), and the server
reaches no provider."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import voicewire

SRC = Path(voicewire.__file__).parent


def _imports(package: str) -> dict[str, set[str]]:
    """Module file -> the absolute names it imports (relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / package).rglob("*.py")):
        parts = ["voicewire", *path.relative_to(SRC).with_suffix("").parts]
        here = parts[:-1]  # the package a relative import starts from
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                names.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
        found[str(path.relative_to(SRC))] = names
    return found


@pytest.mark.parametrize("user", ["voicewire.server", "voicewire.providers"])
def test_the_wire_imports_nothing_from_its_users(user: str) -> None:
    """Sans-I/O and shared by both sides: connection facts (URLs, keys, pings) live with the
    providers' ``Endpoint``, never in the wire's ``Dialect``."""
    for module, names in _imports("openai_wire").items():
        reached = [n for n in names if n == user or n.startswith(user + ".")]
        assert not reached, (module, reached)


def test_the_wire_imports_no_private_module() -> None:
    for module, names in _imports("openai_wire").items():
        private = [n for n in names if n.startswith("voicewire") and "._" in n]
        assert not private, (module, private)


def test_the_server_reaches_no_provider() -> None:
    for module, names in _imports("server").items():
        assert not any(name.startswith("voicewire.providers") for name in names), module
