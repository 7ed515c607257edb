"""OpenAI realtime model: the OpenAI-protocol model with the OpenAI dialect."""

from __future__ import annotations

import httpx

from ..openai_protocol.dialect import OPENAI
from ..openai_protocol.model import OpenAIProtocolModel

DEFAULT_MODEL = "gpt-realtime"


class OpenAIRealtimeModel(OpenAIProtocolModel):
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
            OPENAI,
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
) -> OpenAIRealtimeModel:
    """A OpenAI realtime model; the key comes from ``api_key`` or ``$OPENAI_API_KEY``."""
    return OpenAIRealtimeModel(
        model_id,
        api_key=api_key,
        base_url=base_url,
        rest_base_url=rest_base_url,
        http_client=http_client,
    )
