"""Test plumbing for Twilio Media Streams: a uvicorn server on 127.0.0.1, a simulated Twilio
(the WebSocket *client* of a Media Stream), an in-memory WebSocket, and the AsyncAPI schemas of
what an app may send to Twilio."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from jsonschema import Draft7Validator, FormatChecker
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection

from voicewire.audio import pcm16_to_ulaw
from voicewire.protocol import AudioFormat

SPEC = Path(__file__).parent / "data" / "twilio_media_streams_asyncapi_apievangelist.yml"
EVENTS = json.loads((SPEC.parent / "twilio_media_streams_events.json").read_text())
"""Which events go which way (a summary of Twilio's "WebSocket messages" page)."""
STREAM_SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL_SID = "CA3f2e8a1b0c9d4e7f6a5b4c3d2e1f0a9b"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"


async def eventually(check: Callable[[], bool], what: str = "", *, within: float = 5.0) -> None:
    """Poll ``check`` until it holds; fails the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on a free port of 127.0.0.1; yields ``ws://127.0.0.1:<port>``."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise AssertionError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# -- outbound schemas -------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """Twilio rejects unknown fields in what it receives (error 31951): forbid them."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_strict(v) for v in schema]
    return schema


def _resolve(spec: Mapping[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _validator(operation: str, events: set[str]) -> Draft7Validator:
    """One validator for every message of ``operation`` (``publish``: what an app sends to
    Twilio; ``subscribe``: what Twilio sends) on the ``media-streams`` channel, strictly."""
    spec = yaml.safe_load(SPEC.read_text())
    refs = spec["channels"]["media-streams"][operation]["message"]["oneOf"]
    payloads = []
    for ref in refs:
        message = _resolve(spec, ref["$ref"])
        payload = message["payload"]
        if "$ref" in payload:
            payload = _resolve(spec, payload["$ref"])
        payloads.append(_strict(copy.deepcopy(payload)))
    assert {p["properties"]["event"]["const"] for p in payloads} == events
    checker = FormatChecker()

    @checker.checks("byte", raises=(binascii.Error, ValueError))
    def _is_base64(value: object) -> bool:
        if not isinstance(value, str):
            return True
        base64.b64decode(value, validate=True)
        return True

    schema = {"oneOf": payloads}
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=checker)


def outbound_validator() -> Draft7Validator:
    """Every message the spec lets an app send to Twilio on a Media Stream, strictly."""
    return _validator("publish", {"media", "mark", "clear"})


def inbound_validator() -> Draft7Validator:
    """Every message the spec says Twilio sends on a Media Stream, strictly."""
    return _validator("subscribe", {"connected", "start", "media", "dtmf", "mark", "stop"})


# -- a simulated Twilio -----------------------------------------------------------------------


def start_message(parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Twilio's ``start`` for this test call (without ``sequenceNumber``), 8 kHz μ-law inbound."""
    return {
        "event": "start",
        "streamSid": STREAM_SID,
        "start": {
            "streamSid": STREAM_SID,
            "accountSid": ACCOUNT_SID,
            "callSid": CALL_SID,
            "tracks": ["inbound"],
            "customParameters": dict(parameters or {}),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }


def mulaw_frames(pcm16_8k: bytes) -> list[bytes]:
    """PCM16 at 8 kHz as the 20 ms μ-law frames Twilio sends."""
    mulaw = pcm16_to_ulaw(pcm16_8k)
    return [mulaw[i : i + 160] for i in range(0, len(mulaw), 160)]


class FakeTwilio:
    """Plays Twilio's part of a bidirectional Media Stream over a real WebSocket.

    Sends ``connected``/``start``/``media``/``dtmf``/``stop`` and records what the app sends.
    Marks are echoed as Twilio does once the audio before them played (here: at once) — but only
    the first ``ack_limit`` of them when that is set; the others stay pending until a ``clear``,
    after which Twilio echoes every pending mark (the audio was discarded, not played).
    """

    def __init__(self, ws: ClientConnection, *, ack_limit: int | None = None) -> None:
        self.ws = ws
        self.ack_limit = ack_limit
        self.received: list[dict[str, Any]] = []
        self.media = bytearray()
        self.frames: list[int] = []
        self.marks: list[str] = []
        self.mark_offsets: dict[str, int] = {}
        """Media bytes received before each mark."""
        self.acked: list[str] = []
        self.pending: list[str] = []
        self.echoed_after_clear: list[str] = []
        self.clears: list[int] = []
        """Media bytes received when each clear came."""
        self._seq = 0
        self._chunk = 0
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeTwilio:
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)

    async def send(self, message: dict[str, Any]) -> None:
        self._seq += 1
        message = {"event": message["event"], "sequenceNumber": str(self._seq), **message}
        if message["event"] != "connected":
            message.setdefault("streamSid", STREAM_SID)
        await self.ws.send(json.dumps(message))

    async def connected(self) -> None:
        self._seq += 1  # connected carries no sequenceNumber
        await self.ws.send(
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )

    async def start(self, parameters: Mapping[str, str] | None = None) -> None:
        await self.send(start_message(parameters))

    async def speak(self, pcm16_8k: bytes) -> bytes:
        """Send audio as 20 ms media frames; returns the μ-law sent."""
        sent = bytearray()
        for frame in mulaw_frames(pcm16_8k):
            self._chunk += 1
            await self.send(
                {
                    "event": "media",
                    "media": {
                        "track": "inbound",
                        "chunk": str(self._chunk),
                        "timestamp": str(20 * (self._chunk - 1)),
                        "payload": base64.b64encode(frame).decode(),
                    },
                }
            )
            sent += frame
            await asyncio.sleep(0)
        return bytes(sent)

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self.send({"event": "stop", "stop": {"accountSid": ACCOUNT_SID, "callSid": CALL_SID}})

    async def echo_mark(self, name: str) -> None:
        await self.send({"event": "mark", "mark": {"name": name}})

    async def _read(self) -> None:
        async for raw in self.ws:
            assert isinstance(raw, str), "Twilio rejects binary frames (error 31950)"
            message = json.loads(raw)
            self.received.append(message)
            event = message.get("event")
            if event == "media":
                frame = base64.b64decode(message["media"]["payload"])
                self.frames.append(len(frame))
                self.media += frame
            elif event == "mark":
                name = message["mark"]["name"]
                self.marks.append(name)
                self.mark_offsets[name] = len(self.media)
                if self.ack_limit is None or len(self.acked) < self.ack_limit:
                    self.acked.append(name)
                    await self.echo_mark(name)
                else:
                    self.pending.append(name)
            elif event == "clear":
                self.clears.append(len(self.media))
                pending, self.pending = self.pending, []
                for name in pending:
                    self.echoed_after_clear.append(name)
                    await self.echo_mark(name)


# -- in memory --------------------------------------------------------------------------------


class MemorySocket:
    """A server-side WebSocket in memory, with Starlette's method names (for unit tests)."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.accepted = False
        self.closed = False

    async def accept(self) -> None:
        self.accepted = True

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = True

    def push(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def push_bytes(self, data: bytes) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "bytes": data})

    def disconnect(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    def start(self, parameters: Mapping[str, str] | None = None) -> None:
        self.push({"sequenceNumber": "1", **start_message(parameters)})

    def media(self, payload: bytes | str) -> None:
        text = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
        self.push(
            {
                "event": "media",
                "sequenceNumber": "2",
                "streamSid": STREAM_SID,
                "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": text},
            }
        )

    def mark(self, name: str) -> None:
        self.push(
            {
                "event": "mark",
                "sequenceNumber": "3",
                "streamSid": STREAM_SID,
                "mark": {"name": name},
            }
        )

    def of(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["event"] == event]

    def media_bytes(self) -> bytes:
        return b"".join(base64.b64decode(m["media"]["payload"]) for m in self.of("media"))


class StubSink:
    """An AudioSink that records what the channel feeds it; optionally a session-like ``on``."""

    def __init__(
        self,
        input_format: AudioFormat | None = None,
        output_format: AudioFormat | None = None,
    ) -> None:
        self.input_format = input_format or AudioFormat.pcmu()
        self.output_format = output_format or AudioFormat.pcmu()
        self.audio = bytearray()
        self.commits = 0
        self.handlers: dict[str, list[Callable[[Any], None]]] = {}

    def send_audio(self, audio: bytes) -> None:
        self.audio += audio

    def commit(self) -> None:
        self.commits += 1


class SessionLikeSink(StubSink):
    def on(self, kind: str, handler: Callable[[Any], None]) -> Callable[[], None]:
        self.handlers.setdefault(kind, []).append(handler)
        return lambda: self.handlers[kind].remove(handler)

    def emit(self, kind: str, event: Any) -> None:
        for handler in list(self.handlers.get(kind, [])):
            handler(event)
