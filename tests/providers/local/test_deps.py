"""The error for a missing ``local`` extra says how to install it."""

from __future__ import annotations

import pytest

from voicewire.protocol import ConfigurationError
from voicewire.providers.local import _deps


def test_missing_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicewire.providers import local

    # only piper missing, whatever is installed here
    monkeypatch.setattr(_deps, "available", lambda name: name != "piper")
    with pytest.raises(ConfigurationError) as caught:
        local.realtime()
    assert 'pip install "voicewire[local]"' in str(caught.value)
    assert "piper-tts" in str(caught.value)
    with pytest.raises(ConfigurationError, match="voicewire\\[local\\]"):
        _deps.require("surely_not_a_module_xyz", "testing")
