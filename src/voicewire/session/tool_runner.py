"""Runs the model's tool calls as tasks and tells the model when to go on.

A response may ask for several tools. Each runs as its own task; each result (or error) goes back
at once; and only when the asking response is over and all of its calls are answered does the
session ask the model to continue — never while that response is still active, which the
providers reject, and never a model that cannot be asked (``continues=False``: it goes on by
itself after a result, as Gemini and ElevenLabs agents do).

A model may withdraw a call it made (Gemini's ``toolCallCancellation``): :meth:`ToolRunner.withdraw`
cancels the running tool, and no result goes back, since the model no longer waits for one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..context import Context
from ..protocol import (
    ClientEvent,
    ResponseCreate,
    SessionError,
    ToolCall,
    ToolCancelled,
    ToolResult,
)
from ..tools import ToolError, UnknownToolError
from .events import SessionEvent, ToolOutput

if TYPE_CHECKING:
    from ..agent import RealtimeAgent

log = logging.getLogger("voicewire.session")

CANCELLED_OUTPUT = json.dumps({"error": "cancelled: the user interrupted before the tool finished"})


class ToolRunner:
    """The running tool calls of one session (see the module docstring)."""

    def __init__(
        self,
        agent: RealtimeAgent,
        context: Context[Any],
        send: Callable[[ClientEvent], None],
        emit: Callable[[SessionEvent], None],
        *,
        continues: bool = True,
    ) -> None:
        """``continues``: the model takes ``response.create`` (its capabilities say so); else
        it is never asked to continue after the results."""
        self._continues = continues
        self._agent = agent
        self._context = context
        self._send = send
        self._emit = emit
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str | None, set[str]] = {}
        self._answered: set[str | None] = set()
        self._open_responses: set[str | None] = set()
        self._withdrawn: set[str] = set()  # running calls the model withdrew

    @property
    def running(self) -> int:
        return len(self._tasks)

    def response_started(self, response_id: str | None) -> None:
        self._open_responses.add(response_id)

    def response_done(self, response_id: str | None) -> None:
        self._open_responses.discard(response_id)
        self._maybe_continue(response_id)

    def start(self, call: ToolCall) -> None:
        if call.call_id in self._tasks:
            return  # the same call reported twice: run it once
        self._pending.setdefault(call.response_id, set()).add(call.call_id)
        task = asyncio.create_task(self._run(call), name=f"tool-{call.name}-{call.call_id}")
        self._tasks[call.call_id] = task

    def withdraw(self, call_id: str) -> bool:
        """The model withdrew ``call_id``: cancel its tool if it is running (no result goes
        back; the runner reports ``tool.cancelled`` once it has stopped). ``False`` when no
        such call is running (it finished, or was never started)."""
        task = self._tasks.get(call_id)
        if task is None:
            return False
        self._withdrawn.add(call_id)
        task.cancel()
        return True

    def cancel_all(self) -> None:
        """Cancel running tools (interruption or close); the model is told each was cancelled."""
        for task in list(self._tasks.values()):
            task.cancel()

    async def aclose(self) -> None:
        self.cancel_all()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self, call: ToolCall) -> None:
        is_error = False
        try:
            output = await self._invoke(call)
        except ToolError as exc:
            is_error = True
            output = json.dumps({"error": exc.message})
            self._emit(SessionError(exc.code, exc.message))
        except asyncio.CancelledError:
            self._finish(call, CANCELLED_OUTPUT, is_error=True, cancelled=True)
            raise
        except Exception as exc:  # a bug in voicewire, not in the tool: still answer the model
            log.exception("tool %s crashed the runner", call.name)
            is_error = True
            output = json.dumps({"error": f"internal error running {call.name}: {exc}"})
            self._emit(SessionError("tool_error", output))
        self._finish(call, output, is_error=is_error, cancelled=False)

    async def _invoke(self, call: ToolCall) -> str:
        tool = self._agent.get_tool(call.name)
        if tool is None:
            raise UnknownToolError(call.name, [t.name for t in self._agent.tools])
        return await tool.invoke(self._context, call.arguments)

    def _finish(self, call: ToolCall, output: str, *, is_error: bool, cancelled: bool) -> None:
        self._tasks.pop(call.call_id, None)
        self._pending.get(call.response_id, set()).discard(call.call_id)
        if call.call_id in self._withdrawn:  # the model waits for no result: none is sent
            self._withdrawn.discard(call.call_id)
            self._emit(ToolCancelled(call.call_id))
            # A model withdraws calls when the user cuts in (Gemini): as after an interruption,
            # the user's turn, not the other results, decides what comes next.
            self._answered.discard(call.response_id)
            self._pending.pop(call.response_id, None)
            return
        try:
            self._send(ToolResult(call.call_id, output, call.name, is_error))
        except Exception as exc:  # connection already gone: the result is in history anyway
            log.debug("could not send the result of %s: %s", call.call_id, exc)
        if cancelled:
            self._emit(ToolCancelled(call.call_id))
            # The user is talking: their turn, not the tool's, decides what happens next.
            self._answered.discard(call.response_id)
            self._pending.pop(call.response_id, None)
        else:
            self._answered.add(call.response_id)
        self._emit(ToolOutput(call.call_id, call.name, output, is_error))
        if not cancelled:
            self._maybe_continue(call.response_id)

    def _maybe_continue(self, response_id: str | None) -> None:
        if (
            response_id in self._answered
            and response_id not in self._open_responses
            and not self._pending.get(response_id)
        ):
            self._answered.discard(response_id)
            self._pending.pop(response_id, None)
            if not self._continues:  # the model goes on by itself after the results
                return
            try:
                self._send(ResponseCreate())
            except Exception as exc:
                log.debug("could not ask the model to continue: %s", exc)
