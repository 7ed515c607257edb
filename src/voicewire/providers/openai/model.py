"""OpenAI Realtime (GA): the OpenAI-protocol model with the openai dialect."""

from __future__ import annotations

from typing import Unpack

from ...openai_wire.dialect import OPENAI
from ..openai_protocol.endpoint import OPENAI_ENDPOINT
from ..openai_protocol.model import ModelOptions, OpenAIProtocolModel

DEFAULT_MODEL = "gpt-realtime"


class OpenAIRealtimeModel(OpenAIProtocolModel):
    """OpenAI Realtime (GA); the API key comes from ``api_key`` or ``$OPENAI_API_KEY``."""

    def __init__(self, model_id: str = DEFAULT_MODEL, **options: Unpack[ModelOptions]) -> None:
        super().__init__(OPENAI, model_id, endpoint=OPENAI_ENDPOINT, **options)


realtime = OpenAIRealtimeModel
"""``realtime(model_id, api_key=..., base_url=..., rest_base_url=..., http_client=...)``."""
