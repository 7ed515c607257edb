"""xAI realtime model: the OpenAI-protocol model with the xAI dialect."""

from __future__ import annotations

import httpx

from ..openai_protocol.dialect import XAI
from ..openai_protocol.model import OpenAIProtocolModel

DEFAULT_MODEL = "grok-voice-latest"


class XAIRealtimeModel(OpenAIProtocolModel):
    def __init__(
        self,
        model_id: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        rest_base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            XAI,
            model_id,
            api_key=api_key,
            base_url=base_url,
            rest_base_url=rest_base_url,
            http_client=http_client,
        )


def realtime(
    model_id: str = DEFAULT_MODEL,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    rest_base_url: str | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> XAIRealtimeModel:
    """An xAI realtime model; the key comes from ``api_key`` or ``$XAI_API_KEY``."""
    return XAIRealtimeModel(
        model_id,
        api_key=api_key,
        base_url=base_url,
        rest_base_url=rest_base_url,
        http_client=http_client,
    )
