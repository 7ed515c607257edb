"""The shipped providers' capabilities side by side: the table in the README is this output, and
a test keeps the two in step (``python -m voicewire.providers.capability_table`` prints it)."""

from __future__ import annotations

from ..protocol import RealtimeCapabilities, render_capabilities_table


def shipped_capabilities() -> dict[str, RealtimeCapabilities]:
    """Provider name -> what its model can take, for every provider voicewire ships."""
    from ..openai_wire.dialect import OPENAI, XAI
    from .elevenlabs.model import CAPABILITIES as ELEVENLABS_CAPABILITIES
    from .gemini.model import GEMINI_CAPABILITIES
    from .local.model import LOCAL_CAPABILITIES

    return {
        OPENAI.name: OPENAI.capabilities,
        XAI.name: XAI.capabilities,
        "gemini": GEMINI_CAPABILITIES,
        "elevenlabs": ELEVENLABS_CAPABILITIES,
        "local": LOCAL_CAPABILITIES,
    }


def capabilities_table() -> str:
    """The markdown table of :func:`shipped_capabilities` (a row per capability)."""
    return render_capabilities_table(shipped_capabilities())


if __name__ == "__main__":
    print(capabilities_table(), end="")
