"""Tool calls a model withdraws, and models that go on by themselves after a tool result.

A model's ``tool.cancelled`` (Gemini's ``toolCallCancellation``) stops the running tool and no
result goes back (the model waits for none); the app hears ``tool.cancelled`` once. A model that
cannot take ``response.create`` (Gemini, ElevenLabs answer after a result by themselves) is never
asked to continue, not even to have the session refuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from tests.session.conftest import MemoryModel, settle
from voicewire import RealtimeAgent, RealtimeSession, tool
from voicewire.protocol import (
    RealtimeCapabilities,
    ResponseCreated,
    ResponseDone,
    ToolCall,
    ToolCancelled,
)

STARTED: list[str] = []
STOPPED: list[str] = []


@tool(timeout=10)
async def lookup(query: str) -> str:
    """Looks something up, slowly."""
    STARTED.append(query)
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        STOPPED.append(query)
        raise
    return "found"


@tool
async def quick(query: str) -> str:
    """Answers at once."""
    return f"answer to {query}"


@tool(timeout=10)
async def stubborn(query: str) -> str:
    """Ignores cancellation and answers anyway."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)
    return "late answer"


AGENT = RealtimeAgent(id="a", name="A", instructions="Hi.", tools=[lookup, quick, stubborn])


class DeclaringModel(MemoryModel):
    def __init__(self, capabilities: RealtimeCapabilities) -> None:
        super().__init__()
        self.capabilities = capabilities


@pytest.fixture(autouse=True)
def _fresh() -> None:
    STARTED.clear()
    STOPPED.clear()


async def test_a_withdrawn_call_stops_its_tool_and_sends_no_result() -> None:
    model = MemoryModel()
    async with RealtimeSession(AGENT, model=model) as session:
        cancelled: list[ToolCancelled] = []
        outputs: list[object] = []
        session.on("tool.cancelled", cancelled.append)
        session.on("tool.output", outputs.append)
        conn = model.connection
        conn.push(ResponseCreated("r"), ToolCall("c1", "lookup", '{"query": "x"}', None, "r"))
        await settle()
        assert STARTED == ["x"]
        conn.push(ToolCancelled("c1"), ResponseDone("r"))
        await settle()
        assert STOPPED == ["x"]  # the tool task was cancelled
        assert session._tools.running == 0
        assert [c.call_id for c in cancelled] == ["c1"]  # once, not once per layer
        assert conn.of("tool.result") == []  # the model waits for no result
        assert conn.of("response.create") == []  # nothing was answered
        assert outputs == []


async def test_a_tool_that_ignores_cancellation_still_sends_nothing_for_a_withdrawn_call() -> None:
    model = MemoryModel()
    async with RealtimeSession(AGENT, model=model) as session:
        cancelled: list[ToolCancelled] = []
        session.on("tool.cancelled", cancelled.append)
        conn = model.connection
        conn.push(ResponseCreated("r"), ToolCall("c1", "stubborn", '{"query": "x"}', None, "r"))
        await settle()
        conn.push(ToolCancelled("c1"))
        await settle()
        assert conn.of("tool.result") == []
        assert [c.call_id for c in cancelled] == ["c1"]


async def test_a_withdrawn_call_asks_for_no_continuation_as_an_interruption_would() -> None:
    """Models withdraw calls when the user cuts in: the user's turn decides what follows, not
    the results of the response's other calls."""
    model = MemoryModel()
    async with RealtimeSession(AGENT, model=model):
        conn = model.connection
        conn.push(
            ResponseCreated("r"),
            ToolCall("c1", "lookup", '{"query": "x"}', None, "r"),
            ToolCall("c2", "quick", '{"query": "y"}', None, "r"),
            ResponseDone("r"),
        )
        await settle()
        assert [r.call_id for r in conn.of("tool.result")] == ["c2"]
        assert conn.of("response.create") == []  # c1 is still running
        conn.push(ToolCancelled("c1"))
        await settle()
        assert [r.call_id for r in conn.of("tool.result")] == ["c2"]
        assert conn.of("response.create") == []


async def test_a_cancellation_of_a_finished_call_reaches_the_app_as_the_model_said_it() -> None:
    model = MemoryModel()
    async with RealtimeSession(AGENT, model=model) as session:
        cancelled: list[ToolCancelled] = []
        session.on("tool.cancelled", cancelled.append)
        conn = model.connection
        conn.push(ResponseCreated("r"), ToolCall("c2", "quick", '{"query": "y"}', None, "r"))
        await settle()
        conn.push(ToolCancelled("c2"))
        await settle()
        assert [c.call_id for c in cancelled] == ["c2"]
        assert [r.call_id for r in conn.of("tool.result")] == ["c2"]


async def test_a_model_without_response_create_is_not_asked_to_continue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = DeclaringModel(RealtimeCapabilities(response_create=False, response_cancel=False))
    caplog.set_level(logging.DEBUG, logger="voicewire.session")
    async with RealtimeSession(AGENT, model=model):
        conn = model.connection
        conn.push(
            ResponseCreated("r"),
            ToolCall("c2", "quick", '{"query": "y"}', None, "r"),
            ResponseDone("r"),
        )
        await settle()
        assert [r.call_id for r in conn.of("tool.result")] == ["c2"]
    assert conn.of("response.create") == []
    # Not even tried (and refused by the session's own guard).
    assert not [r for r in caplog.records if "response.create" in r.getMessage()]
