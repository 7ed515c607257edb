"""Server test helpers: the app on a real uvicorn server on 127.0.0.1, a raw WebSocket client
that checks every frame, and a strict checker of GA server events."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic
import pytest
import uvicorn
import websockets
from openai.types.realtime import RealtimeServerEvent
from starlette.applications import Starlette

from voicewire import RealtimeAgent, tool
from voicewire.server import VoicewireServer, create_app
from voicewire.testing import ScriptedModel, TextReply, ToolCallReply

_SERVER_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
    Annotated[RealtimeServerEvent, pydantic.Field(discriminator="type")]
)


def strict_problems(event: Mapping[str, Any]) -> list[str]:
    """Why ``event`` is not a valid GA server event: it must validate (strict mode, on its JSON)
    against the SDK's ``RealtimeServerEvent``, and carry no key the SDK models do not declare
    (they accept unknown keys silently, so each raw object is walked next to its parsed model)."""
    try:
        parsed = _SERVER_EVENT.validate_json(json.dumps(event), strict=True)
    except pydantic.ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    problems: list[str] = []
    _walk(event, parsed, str(event.get("type")), problems)
    if not isinstance(event.get("event_id"), str) or not event["event_id"]:
        problems.append("event_id: missing")
    return problems


def _walk(raw: Any, parsed: Any, path: str, problems: list[str]) -> None:
    if isinstance(parsed, pydantic.BaseModel):
        for key in parsed.model_extra or {}:
            problems.append(f"{path}.{key}: unknown key")
        if not isinstance(raw, Mapping):
            return
        names = {(info.alias or name): name for name, info in type(parsed).model_fields.items()}
        for key, value in raw.items():
            name = names.get(key)
            if name is None:
                problems.append(f"{path}.{key}: unknown key")
            else:
                _walk(value, getattr(parsed, name), f"{path}.{key}", problems)
    elif isinstance(parsed, list) and isinstance(raw, list):
        for index, (raw_item, parsed_item) in enumerate(zip(raw, parsed, strict=False)):
            _walk(raw_item, parsed_item, f"{path}[{index}]", problems)


def assert_strict(event: Mapping[str, Any]) -> None:
    problems = strict_problems(event)
    assert not problems, f"{event.get('type')} is not a strict GA server event: {problems}"


# --- the agent and the model -------------------------------------------------------------------

WEATHER_CALLS: list[str] = []


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    WEATHER_CALLS.append(city)
    return f"sunny and 21 degrees in {city}"


@pytest.fixture
def agent() -> RealtimeAgent:
    WEATHER_CALLS.clear()
    return RealtimeAgent(
        id="concierge",
        name="Concierge",
        instructions="PRIVATE-INSTRUCTIONS: be brief.",
        tools=[get_weather],
        voice={"voice_id": "marin"},
    )


@pytest.fixture
def model() -> ScriptedModel:
    scripted = ScriptedModel(model_id="scripted-realtime")
    scripted.script.default = TextReply("Hello from the server.")
    scripted.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("It is sunny in Paris.")),
    )
    return scripted


# --- a live server -----------------------------------------------------------------------------


@dataclass
class Served:
    app: Starlette
    port: int

    @property
    def server(self) -> VoicewireServer:
        server: VoicewireServer = self.app.state.voicewire
        return server

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-realtime"

    def token(self) -> str:
        return self.server.tokens.issue().token

    async def wait_idle(self, model: ScriptedModel | None = None) -> None:
        """Wait until every session is closed (and the model's connections with them)."""
        async with asyncio.timeout(5):
            while self.server.active_sessions or (model is not None and model.connections):  # noqa: ASYNC110
                await asyncio.sleep(0.01)


@asynccontextmanager
async def serve(app: Starlette, sock: socket.socket | None = None) -> AsyncIterator[Served]:
    """Run ``app`` on uvicorn (port 0, or the listening ``sock``) in this event loop for the
    duration of the block."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_config=None,  # leave logging alone: records propagate to caplog
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(None if sock is None else [sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Served(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def served(agent: RealtimeAgent, model: ScriptedModel) -> AsyncIterator[Served]:
    async with serve(create_app(agent, model)) as running:
        yield running


# --- a raw client ------------------------------------------------------------------------------


def _not_json(constant: str) -> Any:
    raise AssertionError(f"the server sent {constant}, which is not JSON")


@dataclass
class RawClient:
    """A plain ``websockets`` client that checks every server frame strictly."""

    ws: websockets.ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, event: Mapping[str, Any] | str | bytes) -> None:
        await self.ws.send(event if isinstance(event, str | bytes) else json.dumps(event))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(raw, str), "the server must send text frames"
        event = json.loads(raw, parse_constant=_not_json)  # json.loads alone takes NaN
        assert_strict(event)
        self.frames.append(event)
        return event  # type: ignore[no-any-return]

    async def until(self, event_type: str, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Frames up to and including the next ``event_type``."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.recv(timeout)
                seen.append(event)
                if event["type"] == event_type:
                    return seen

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.frames]


@asynccontextmanager
async def raw_client(
    served: Served,
    token: str | None = None,
    *,
    subprotocol: bool = False,
    origin: str | None = None,
) -> AsyncIterator[RawClient]:
    token = token or served.token()
    headers: dict[str, str] = {}
    subprotocols: list[Any] | None = None
    if subprotocol:
        subprotocols = ["realtime", f"openai-insecure-api-key.{token}"]
    else:
        headers["Authorization"] = f"Bearer {token}"
    async with websockets.connect(
        served.ws_url,
        additional_headers=headers,
        subprotocols=subprotocols,
        origin=origin,  # type: ignore[arg-type]
        max_size=None,
        open_timeout=5,
    ) as ws:
        client = RawClient(ws)
        created = await client.recv()
        assert created["type"] == "session.created"
        yield client


def user_text(text: str, event_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }
    if event_id is not None:
        event["event_id"] = event_id
    return event
