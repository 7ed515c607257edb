"""Every command's ``--help`` renders: help texts are Rich markup, where a ``[/...]`` in a text
(``redis://host[:port][/db]``) is a closing tag and made ``voicewire serve --help`` crash."""

from __future__ import annotations

import pytest

from tests.cli.test_converse_cli import run_cli

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("command", ["demo", "talk", "converse", "serve", "token"])
async def test_help_renders(command: str) -> None:
    code, out, err = await run_cli(command, "--help")
    assert (code, err) == (0, ""), err
    assert "Usage: " in out and "--help" in out
    if command == "serve":
        assert "--redis" in out and "--drain-timeout" in out and "--limit-concurrency" in out
