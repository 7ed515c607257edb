"""Against Gemini Live and an ElevenLabs agent. Each test runs only when its keys are set:
``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``); ``ELEVENLABS_API_KEY`` and ``ELEVENLABS_AGENT_ID``
(an agent of yours; for the tool test, ``ELEVENLABS_TOOL_AGENT_ID``: an agent with a client tool
``secret_number`` that takes no parameters and waits for its result)."""

from __future__ import annotations

import asyncio
import os

import pytest

from voicewire import RealtimeAgent, RealtimeSession, tool
from voicewire.protocol import ConnectOptions, RealtimeModel, TokenCredential, UrlCredential
from voicewire.providers import gemini

pytestmark = pytest.mark.live


@tool
def secret_number() -> int:
    """The secret number the user may ask for."""
    return 4217


def _gemini() -> RealtimeModel:
    if not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")):
        pytest.skip("GEMINI_API_KEY (or GOOGLE_API_KEY) is not set")
    return gemini.realtime()


def _elevenlabs(agent_variable: str = "ELEVENLABS_AGENT_ID") -> RealtimeModel:
    agent_id = os.environ.get(agent_variable)
    if not (os.environ.get("ELEVENLABS_API_KEY") and agent_id):
        pytest.skip(f"ELEVENLABS_API_KEY and {agent_variable} are not both set")
    from voicewire.providers import elevenlabs

    return elevenlabs.realtime(agent_id)


def _agent(tools: bool) -> RealtimeAgent:
    return RealtimeAgent(
        id="live",
        name="Live",
        instructions="Answer in one short sentence. Use tools when they help.",
        tools=[secret_number] if tools else [],
    )


async def _ask(model: RealtimeModel, text: str, wanted: str, *, tools: bool) -> list[str]:
    """Send ``text`` and collect what the model says until it says ``wanted`` (60 s at most)."""
    said: list[str] = []
    async with RealtimeSession(_agent(tools), model=model) as session:
        session.send_message(text)

        async def collect() -> None:
            async for event in session:
                if event.kind in ("text.output", "transcript.output"):
                    said.append(event.text)  # type: ignore[union-attr]
                    if wanted in event.text.lower():  # type: ignore[union-attr]
                        return

        await asyncio.wait_for(collect(), timeout=60)
    return said


async def test_gemini_text_turn() -> None:
    said = await _ask(
        _gemini(), "Please say the single word 'pineapple'.", "pineapple", tools=False
    )
    assert any("pineapple" in s.lower() for s in said)


async def test_gemini_tool_call() -> None:
    said = await _ask(_gemini(), "What is the secret number? Use the tool.", "4217", tools=True)
    assert any("4217" in s for s in said)


async def test_gemini_authenticate_then_connect_with_the_token() -> None:
    model = _gemini()
    credential = await model.authenticate()
    assert isinstance(credential, TokenCredential) and not credential.is_expired()
    assert credential.token.startswith("auth_tokens/")
    connection = await model.connect(ConnectOptions(credential=credential))
    try:
        async for event in connection:
            assert event.kind == "session.created"
            break
    finally:
        await connection.close()


async def test_elevenlabs_text_turn() -> None:
    said = await _ask(
        _elevenlabs(), "Please say the single word 'pineapple'.", "pineapple", tools=False
    )
    assert any("pineapple" in s.lower() for s in said)


async def test_elevenlabs_client_tool_call() -> None:
    model = _elevenlabs("ELEVENLABS_TOOL_AGENT_ID")
    said = await _ask(model, "What is the secret number? Use the tool.", "4217", tools=True)
    assert any("4217" in s for s in said)


async def test_elevenlabs_signed_url_then_connect_with_it() -> None:
    model = _elevenlabs()
    credential = await model.authenticate()
    assert isinstance(credential, UrlCredential) and not credential.is_expired()
    connection = await model.connect(ConnectOptions(credential=credential))
    try:
        async for event in connection:
            assert event.kind == "session.created"
            break
    finally:
        await connection.close()
