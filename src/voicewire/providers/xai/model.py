"""xAI Grok Voice Agent: the OpenAI-protocol model with the xai dialect."""

from __future__ import annotations

from typing import Unpack

from ...openai_wire.dialect import XAI
from ..openai_protocol.endpoint import XAI_ENDPOINT
from ..openai_protocol.model import ModelOptions, OpenAIProtocolModel

DEFAULT_MODEL = "grok-voice-latest"


class XAIRealtimeModel(OpenAIProtocolModel):
    """xAI Grok Voice Agent; the API key comes from ``api_key`` or ``$XAI_API_KEY``."""

    def __init__(self, model_id: str = DEFAULT_MODEL, **options: Unpack[ModelOptions]) -> None:
        super().__init__(XAI, model_id, endpoint=XAI_ENDPOINT, **options)


realtime = XAIRealtimeModel
"""``realtime(model_id, api_key=..., base_url=..., rest_base_url=..., http_client=...)``."""
