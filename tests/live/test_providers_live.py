"""Against the real providers. Each test runs only when its API key is in the environment."""

from __future__ import annotations

import asyncio
import os

import pytest

from voicewire import RealtimeAgent, RealtimeSession, SessionConfig, tool
from voicewire.protocol import ConnectOptions, RealtimeModel
from voicewire.providers import openai, xai


@tool
def secret_number() -> int:
    """The secret number the user may ask for."""
    return 4217


def _model(provider: str) -> RealtimeModel:
    key = {"openai": "OPENAI_API_KEY", "xai": "XAI_API_KEY"}[provider]
    if not os.environ.get(key):
        pytest.skip(f"{key} is not set")
    return openai.realtime() if provider == "openai" else xai.realtime()


@pytest.mark.live
@pytest.mark.parametrize("provider", ["openai", "xai"])
async def test_text_turn_with_a_tool(provider: str) -> None:
    model = _model(provider)
    agent = RealtimeAgent(
        id="live",
        name="Live",
        instructions="Answer in one short sentence. Use tools when they help.",
        tools=[secret_number],
    )
    options = ConnectOptions(session_config=SessionConfig(modalities=["text"]))
    async with RealtimeSession(agent, model=model, connect_options=options) as session:
        session.send_message("What is the secret number? Use the tool.")
        said: list[str] = []

        async def collect() -> None:
            async for event in session:
                if event.kind in ("text.output", "transcript.output"):
                    said.append(event.text)  # type: ignore[union-attr]
                    if "4217" in event.text:  # type: ignore[union-attr]
                        return

        await asyncio.wait_for(collect(), timeout=60)
    assert any("4217" in s for s in said)


@pytest.mark.live
@pytest.mark.parametrize("provider", ["openai", "xai"])
async def test_authenticate_then_connect_with_the_credential(provider: str) -> None:
    model = _model(provider)
    credential = await model.authenticate()
    assert not credential.is_expired()
    connection = await model.connect(ConnectOptions(credential=credential))
    try:
        async for event in connection:
            assert event.kind == "session.created"
            break
    finally:
        await connection.close()
