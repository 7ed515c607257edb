"""Gemini Live provider: ``realtime(model_id, api_key=..., base_url=...)``.

A sans-I/O codec (:mod:`.setup`, :mod:`.client_codec`, :mod:`.server_decoder`) under a thin
asyncio connection (:mod:`.connection`) that survives Gemini's socket limits by resumption.
"""

from .connection import GeminiConnection, ResumePolicy
from .model import (
    DEFAULT_MODEL,
    GEMINI_CAPABILITIES,
    GEMINI_KEEPALIVE,
    GeminiRealtimeModel,
    realtime,
)

__all__ = [
    "DEFAULT_MODEL",
    "GEMINI_CAPABILITIES",
    "GEMINI_KEEPALIVE",
    "GeminiConnection",
    "GeminiRealtimeModel",
    "ResumePolicy",
    "realtime",
]
