"""Running tools: argument validation, context injection, threads, errors, timeouts."""

import asyncio
import dataclasses
import enum
import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel

from voicewire.context import Context
from voicewire.tools import (
    ToolArgumentsError,
    ToolError,
    ToolExecutionError,
    ToolTimeoutError,
    UnknownToolError,
    tool,
)


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    street: str
    city: str


@dataclasses.dataclass
class State:
    calls: list[str] = dataclasses.field(default_factory=list)


async def test_context_is_injected_and_arguments_are_validated() -> None:
    seen: dict[str, Any] = {}

    @tool
    def book(ctx: Context[State], address: Address, unit: Unit = Unit.CELSIUS, n: int = 1) -> str:
        seen.update(ctx=ctx, address=address, unit=unit, n=n)
        ctx.data.calls.append(address.city)
        return "booked"

    ctx = Context(State(), session_id="s1", agent_id="a1")
    out = await book.invoke(ctx, '{"address": {"street": "1 Main", "city": "Oslo"}, "n": "2"}')
    assert out == "booked"
    assert seen["ctx"] is ctx
    assert isinstance(seen["address"], Address) and seen["address"].city == "Oslo"
    assert seen["unit"] is Unit.CELSIUS  # default applied
    assert seen["n"] == 2  # lax coercion of "2"
    assert ctx.data.calls == ["Oslo"]


async def test_enum_values_become_members_and_positional_only_params_work() -> None:
    @tool
    def convert(value: float, /, unit: Unit) -> str:
        return f"{value}:{unit.name}"

    assert (
        await convert.invoke(Context(), '{"value": 1.5, "unit": "fahrenheit"}') == "1.5:FAHRENHEIT"
    )


async def test_sync_tools_run_in_a_worker_thread_without_blocking_the_loop() -> None:
    loop_thread = threading.get_ident()
    tool_thread: list[int] = []

    @tool
    def blocking() -> str:
        tool_thread.append(threading.get_ident())
        time.sleep(0.1)
        return "done"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        assert await blocking.invoke(Context(), "{}") == "done"
    finally:
        ticking.cancel()
    assert tool_thread and tool_thread[0] != loop_thread
    assert ticks >= 3, "the event loop was blocked while the sync tool ran"


async def test_async_tools_are_awaited_on_the_loop() -> None:
    loop_thread = threading.get_ident()
    where: list[int] = []

    @tool
    async def lookup(city: str) -> dict[str, str]:
        await asyncio.sleep(0)
        where.append(threading.get_ident())
        return {"city": city}

    assert await lookup.invoke(Context(), '{"city": "Rome"}') == '{"city":"Rome"}'
    assert where == [loop_thread]


async def test_callable_objects_with_async_call() -> None:
    class Greeter:
        async def __call__(self, who: str) -> str:
            return f"hi {who}"

    greeter = tool(Greeter(), name="greet")
    assert greeter.parameters["required"] == ["who"]
    assert await greeter.invoke(Context(), '{"who": "Ada"}') == "hi Ada"


@tool
def forecast(city: str, days: int = 1, address: Address | None = None) -> str:
    raise AssertionError("must not be called with invalid arguments")


@pytest.mark.parametrize(
    ("arguments", "fragments", "fields"),
    [
        ('{"city": ', ["not valid JSON"], ()),
        ("[1, 2]", ["expected a JSON object", "list"], ()),
        ("{}", ["city: Field required"], ("city",)),
        ('{"city": "Oslo", "days": "soon"}', ["days:", "valid integer", "'soon'"], ("days",)),
        ('{"city": "Oslo", "hours": 3}', ["hours: Extra inputs are not permitted"], ("hours",)),
        (
            '{"city": "Oslo", "address": {"street": "x"}}',
            ["address.city: Field required"],
            ("address.city",),
        ),
        ('{"days": 1.5}', ["city: Field required", "days:"], ("city", "days")),
    ],
)
async def test_invalid_arguments(
    arguments: str, fragments: list[str], fields: tuple[str, ...]
) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        await forecast.invoke(Context(), arguments)
    message = str(info.value)
    assert message.startswith("Invalid arguments for tool 'forecast': ")
    for fragment in fragments:
        assert fragment in message
    assert info.value.fields == fields
    assert info.value.tool_name == "forecast"
    assert info.value.code == "tool_arguments_invalid"
    assert isinstance(info.value, ToolError) and isinstance(info.value, ValueError)


async def test_blank_and_mapping_arguments() -> None:
    @tool
    def ping(n: int = 0) -> int:
        return n

    assert await ping.invoke(Context(), "") == "0"
    assert await ping.invoke(Context(), "  ") == "0"
    assert await ping.invoke(Context(), {"n": 4}) == "4"


@pytest.mark.parametrize("is_async", [False, True])
async def test_raising_tool_is_an_execution_error(is_async: bool) -> None:
    def boom(x: int) -> int:
        raise ValueError(f"bad x {x}")

    async def aboom(x: int) -> int:
        raise ValueError(f"bad x {x}")

    t = tool(aboom if is_async else boom, name="explode")
    with pytest.raises(ToolExecutionError) as info:
        await t.invoke(Context(), '{"x": 7}')
    assert str(info.value) == "Tool 'explode' failed: ValueError: bad x 7"
    assert isinstance(info.value.original, ValueError)
    assert info.value.__cause__ is info.value.original
    assert info.value.tool_name == "explode"


async def test_exception_without_message() -> None:
    @tool
    def empty() -> None:
        raise KeyError

    with pytest.raises(ToolExecutionError, match=r"^Tool 'empty' failed: KeyError$"):
        await empty.invoke(Context(), "{}")


async def test_tool_errors_raised_by_the_tool_pass_through() -> None:
    @tool
    async def strict(city: str) -> str:
        raise ToolError(f"no weather for {city}")

    with pytest.raises(ToolError) as info:
        await strict.invoke(Context(), '{"city": "Atlantis"}')
    assert type(info.value) is ToolError
    assert str(info.value) == "no weather for Atlantis"
    assert info.value.tool_name == "strict"


async def test_a_timeout_error_from_the_tool_itself_is_not_a_tool_timeout() -> None:
    @tool(timeout=5)
    async def upstream() -> str:
        raise TimeoutError("upstream API timed out")

    with pytest.raises(ToolExecutionError, match="TimeoutError: upstream API timed out"):
        await upstream.invoke(Context(), "{}")


async def test_hanging_async_tool_times_out() -> None:
    cancelled = asyncio.Event()

    @tool(timeout=0.05)
    async def hang() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    with pytest.raises(ToolTimeoutError) as info:
        await hang.invoke(Context(), "{}")
    assert str(info.value) == "Tool 'hang' timed out after 0.05 s"
    assert info.value.timeout == 0.05
    assert isinstance(info.value, TimeoutError)
    assert cancelled.is_set(), "the hanging coroutine should have been cancelled"


async def test_hanging_sync_tool_times_out_without_waiting_for_the_thread() -> None:
    release = threading.Event()
    returned = threading.Event()

    @tool(timeout=0.05)
    def hang() -> str:
        release.wait(5)
        returned.set()
        return "late"

    try:
        with pytest.raises(ToolTimeoutError):
            await hang.invoke(Context(), "{}")
        assert not returned.is_set(), "the timeout waited for the tool's thread"
    finally:
        release.set()


async def test_no_timeout() -> None:
    @tool(timeout=None)
    async def slowish() -> str:
        await asyncio.sleep(0.01)
        return "ok"

    assert await slowish.invoke(Context(), "{}") == "ok"


@pytest.mark.parametrize("is_async", [False, True])
async def test_cancellation_propagates(is_async: bool) -> None:
    started = threading.Event()
    release = threading.Event()

    def blocking() -> str:
        started.set()
        release.wait(5)
        return "late"

    async def waiting() -> str:
        started.set()
        await asyncio.sleep(10)
        return "late"

    t = tool(waiting if is_async else blocking, name="slow")
    task = asyncio.create_task(t.invoke(Context(), "{}"))
    try:
        assert await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
    finally:
        release.set()


class Reply(BaseModel):
    text: str
    score: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Thing:
    def __str__(self) -> str:
        return "a thing"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ("", ""),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        ([1, "two"], '[1,"two"]'),
        (42, "42"),
        (2.5, "2.5"),
        (True, "true"),
        (None, "null"),
        (Reply(text="hi", score=0.5), '{"text":"hi","score":0.5}'),
        (Point(1, 2), '{"x":1,"y":2}'),
        ({"city": "Zürich"}, '{"city":"Zürich"}'),
        (Unit.CELSIUS, '"celsius"'),
        (Thing(), '"a thing"'),
    ],
)
async def test_return_values_are_serialized(value: Any, expected: str) -> None:
    @tool
    def give() -> Any:
        return value

    assert await give.invoke(Context(), "{}") == expected


def test_unknown_tool_error_lists_available_tools() -> None:
    error = UnknownToolError("fly", ["walk", "swim"])
    assert str(error) == "Unknown tool 'fly'; available tools: 'swim', 'walk'"
    assert error.tool_name == "fly" and error.code == "unknown_tool"
    assert isinstance(error, LookupError)
    assert str(UnknownToolError("fly")) == "Unknown tool 'fly'; available tools: none"
