"""OpenAI realtime provider: ``realtime(model_id, api_key=..., base_url=...)``."""

from .model import DEFAULT_MODEL, OpenAIRealtimeModel, realtime

__all__ = ["DEFAULT_MODEL", "OpenAIRealtimeModel", "realtime"]
