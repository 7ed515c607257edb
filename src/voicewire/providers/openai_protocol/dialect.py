"""Old home of the dialects, kept so existing imports work: see
:mod:`voicewire.openai_wire.dialect`."""

from voicewire.openai_wire.dialect import OPENAI, XAI, Dialect

__all__ = ["OPENAI", "XAI", "Dialect"]
