"""The README's table of providers x capabilities is the code's: regenerate it with
``python -m voicewire.providers.capability_table`` when a provider's capabilities change."""

from __future__ import annotations

import re
from pathlib import Path

from voicewire.providers.capability_table import capabilities_table, shipped_capabilities

README = Path(__file__).parents[2] / "README.md"
BLOCK = re.compile(
    r"<!-- capabilities-table:start -->\n(.*?)<!-- capabilities-table:end -->", re.DOTALL
)


def test_the_readme_table_is_generated_from_the_capabilities() -> None:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(blocks) == 1, "README.md needs one capabilities-table block"
    assert blocks[0] == capabilities_table(), (
        "README.md's capabilities table is stale: paste the output of "
        "`python -m voicewire.providers.capability_table` between its markers"
    )


def test_every_shipped_provider_has_a_column() -> None:
    header = capabilities_table().splitlines()[0]
    assert header == "| capability | " + " | ".join(shipped_capabilities()) + " |"
    assert list(shipped_capabilities()) == ["openai", "xai", "gemini", "elevenlabs", "local"]
