"""The fake ElevenLabs Agents server: listening, the conversation loop, validation and controls.

See the package docstring (:mod:`voicewire.testing.fake_elevenlabs`) for the behaviour; the
HTTP side is in :mod:`.http`, the turns in :mod:`.turns`, the agent's configuration in
:mod:`.agent`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed

from ..elevenlabs_validation import validate_elevenlabs_client, validate_elevenlabs_server
from ..received_log import ReceivedLog
from ..script import AudioReply, Script, TextReply
from ..serving import WebSocketFake
from .agent import AgentConfig, OverrideError, apply_overrides
from .http import Handshake
from .state import Conversation, Event, PingRecord
from .turns import TurnHandlers

__all__ = ["FakeElevenLabsServer"]

_logger = logging.getLogger(__name__)

_ALWAYS_SENT = frozenset({"error", "conversation_initiation_metadata"})
_AUDIO = "user_audio_chunk"


class FakeElevenLabsServer(ReceivedLog, WebSocketFake, TurnHandlers):
    """A scripted ElevenLabs Agents server on ``ws://127.0.0.1:PORT`` for end-to-end tests.

    Args:
        agent_id: the agent clients ask for (``?agent_id=``).
        api_key: the ``xi-api-key`` that may fetch signed URLs.
        private: conversations need a signed URL this server minted.
        agent: the agent's configuration (formats, overrides, tools, first message...).
        script: the replies; a fresh :class:`Script` by default.
        clock: wall clock for signed-URL expiry (``time.time``); inject one to expire URLs.
        ping_interval: seconds between pings on each conversation (``None``: only
            :meth:`ping`).
        strict_pongs: close a conversation (1002) whose latest ping was not answered by the
            time the next is due, and record a violation.
        vad_rms_threshold: PCM16 RMS (fraction of full scale) at which a 10 ms frame is speech.
        silence_duration_ms: quiet that ends a user turn.
        initiation_timeout: how long to wait for ``conversation_initiation_client_data`` before
            starting without it.

    Attributes:
        agent: the agent configuration new conversations start from (settable).
        script: decides replies and what user audio "says".
        received: every parsed client message, all conversations, in order.
        sent: every server message, all conversations, in order.
        violations: problems in what clients sent: schema violations (strict, see
            :mod:`voicewire.testing.elevenlabs_validation`), malformed or binary frames,
            misplaced initiation data, pongs and tool results for unknown ids, missed pongs
            (strict mode), tool calls left unanswered. Each starts with the message type.
        sent_violations: schema problems in what this server sent (expected empty: the fake is
            checked against the same spec).
        undeclared_tool_calls: tools the script called that the agent does not declare.
        conversations: every conversation so far (live or closed), in order.
        connection_count: WebSocket conversations accepted.
    """

    def __init__(
        self,
        agent_id: str = "agent_test",
        api_key: str = "xi-test",
        *,
        private: bool = False,
        agent: AgentConfig | None = None,
        script: Script | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        ping_interval: float | None = None,
        strict_pongs: bool = False,
        vad_rms_threshold: float = 0.02,
        silence_duration_ms: int = 200,
        initiation_timeout: float = 0.5,
    ) -> None:
        self.agent_id = agent_id
        self.agent: AgentConfig = agent if agent is not None else AgentConfig()
        self.script: Script = script if script is not None else Script()
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.strict_pongs = strict_pongs
        self.vad_rms_threshold = vad_rms_threshold
        self.silence_duration_ms = silence_duration_ms
        self.initiation_timeout = initiation_timeout
        self.received: list[Event] = []
        self.sent: list[Event] = []
        self.violations: list[str] = []
        self.sent_violations: list[str] = []
        self.undeclared_tool_calls: list[str] = []
        self.conversations: list[Conversation] = []
        self.connection_count = 0
        self._handshake = Handshake(
            agent_id, api_key, private=private, clock=clock, base_url=lambda: self.base_url
        )
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._call_ids = itertools.count(1)
        self._received_changed = asyncio.Condition()

    # --- lifecycle ---------------------------------------------------------------------------

    _label = "fake ElevenLabs server"

    def _kind_of(self, message: Event) -> str:
        return _kind(message)

    def _listen(self) -> Awaitable[Server]:
        return self._serve(self._serve_conversation, process_request=self._handshake.answer)

    async def _stop_work(self) -> None:
        """Cancel every live conversation's turn."""
        for conv in self._live():
            await self._cancel_turn(conv)

    # --- what tests read ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT``: the WebSocket base (REST is ``http://`` on the same port)."""
        return self._origin()

    @property
    def public_url(self) -> str:
        """The unsigned conversation URL of the agent."""
        return f"{self.base_url}/v1/convai/conversation?agent_id={self.agent_id}"

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """The latest conversation as the agent understood it (a copy): ``user`` turns (the
        transcript or typed text), ``agent`` replies (``text`` corrected after a cut, with
        ``interrupted: True``), ``tool_call`` / ``tool_result`` entries and ``context``
        (contextual updates, the latest per ``context_id``)."""
        if not self.conversations:
            raise RuntimeError("no conversation yet")
        return copy.deepcopy(self.conversations[-1].history)

    @property
    def pongs(self) -> list[PingRecord]:
        """Every ping sent, all conversations, with whether and how fast it was answered."""
        return [ping for conv in self.conversations for ping in conv.pings]

    @property
    def input_audio(self) -> bytes:
        """The latest conversation's user audio, PCM16 at the agent's input rate."""
        return bytes(self.conversations[-1].input_audio) if self.conversations else b""

    @property
    def open_connections(self) -> int:
        """How many conversations are live right now."""
        return len(self._live())

    @property
    def signed_urls_issued(self) -> int:
        """How many signed URLs ``get-signed-url`` handed out."""
        return self._handshake.signed_urls_issued

    @property
    def rejected(self) -> list[tuple[int, str]]:
        """``(HTTP status, reason name)`` of every refused HTTP or handshake request."""
        return list(self._handshake.rejected)

    def signed_url(self) -> str:
        """Mint a signed URL directly (as ``get-signed-url`` would)."""
        return self._handshake.mint()

    # --- controls ----------------------------------------------------------------------------

    async def ping(self) -> list[int]:
        """Send a ping on every live conversation now; returns their event ids."""
        return [await self._ping(conv) for conv in self._live()]

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Send a server message to every live conversation, whatever the agent's
        ``client_events`` (it is still validated into :attr:`sent_violations`)."""
        for conv in self._live():
            await self._send(conv, dict(event), filtered=False)

    async def send_error(self, code: int, error_type: str, message: str) -> None:
        """Send an ``error`` event, then close every live conversation with ``code``."""
        for conv in self._live():
            await self._fail(conv, code, error_type, message)

    async def close_with(self, code: int, reason: str = "") -> None:
        """Close every live conversation with ``code`` and ``reason`` (no ``error`` event)."""
        for conv in self._live():
            await self._close(conv, code, reason)

    async def drop_connections(self) -> None:
        """Cut every live conversation without a close frame (a dead link: the client sees
        1006)."""
        for conv in self._live():
            conv.closed = True
            await self._cancel_turn(conv)
            conv.ws.transport.abort()

    # --- the conversation loop ---------------------------------------------------------------

    async def _serve_conversation(self, ws: ServerConnection) -> None:
        conv = Conversation(ws, f"conv_{secrets.token_hex(8)}", self.agent)
        self.conversations.append(conv)
        self.connection_count += 1
        try:
            first: str | bytes | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.initiation_timeout):
                    first = await ws.recv()
            if first is None or not _is_initiation(first):
                await self._begin(conv)
            if first is not None:
                await self._on_frame(conv, first)
            async for frame in ws:
                await self._on_frame(conv, frame)
        except ConnectionClosed:
            pass
        finally:
            conv.closed = True
            await self._cancel_turn(conv)
            for future in conv.tool_results.values():
                future.cancel()

    async def _begin(self, conv: Conversation) -> None:
        """Announce the conversation, start pinging, and say the first message."""
        conv.started = True
        await self._send(
            conv,
            {
                "type": "conversation_initiation_metadata",
                "conversation_initiation_metadata_event": {
                    "conversation_id": conv.conversation_id,
                    "agent_output_audio_format": conv.agent.agent_output_audio_format,
                    "user_input_audio_format": conv.agent.user_input_audio_format,
                },
            },
        )
        if self.ping_interval is not None:
            self._spawn(conv, self._ping_loop(conv, self.ping_interval))
        if conv.agent.first_message:
            text = conv.agent.first_message
            pace = conv.agent.first_message_pace
            reply = TextReply(text, pace) if conv.agent.text_only else AudioReply(text, pace=pace)
            self._start_turn(conv, reply, conv.next_event_id())

    async def _on_frame(self, conv: Conversation, frame: str | bytes) -> None:
        if conv.closed:
            return
        if isinstance(frame, bytes):
            await self._reject(conv, "<binary frame>", "Binary frames are not supported.")
            return
        try:
            message = json.loads(frame)
        except ValueError as exc:
            await self._reject(conv, "<malformed JSON>", f"Invalid JSON: {exc}")
            return
        if not isinstance(message, dict):
            await self._reject(conv, "<not an object>", "A message must be a JSON object.")
            return
        conv.received.append(message)
        await self._record(message)
        problems = validate_elevenlabs_client(message)
        self.violations.extend(problems)
        # Unknown keys alone are recorded but tolerated (the platform's models ignore extras);
        # anything else is refused the way ElevenLabs refuses it: an error event, close 1008.
        fatal = [p for p in problems if "unknown key(s)" not in p]
        if fatal:
            missing = any("is a required property" in p for p in fatal)
            error_type = "missing_fields" if missing else "invalid_message"
            await self._fail(conv, 1008, error_type, f"Invalid message: {fatal[0]}")
            return
        try:
            await self._dispatch(conv, message)
        except ConnectionClosed:
            raise
        except Exception:
            _logger.exception("fake ElevenLabs server failed on %s", _kind(message))
            await self._fail(conv, 1011, "unknown_websocket_crash", "Internal server error.")

    async def _dispatch(self, conv: Conversation, message: Event) -> None:
        kind = _kind(message)
        if kind == _AUDIO:
            data = base64.b64decode(message[_AUDIO])
            await self._on_user_audio(conv, conv.agent.input_format.decode(data))
        elif kind == "conversation_initiation_client_data":
            await self._on_initiation(conv, message)
        elif kind == "pong":
            self._on_pong(conv, message["event_id"])
        elif kind == "user_message":
            await self._on_user_message(conv, message.get("text"))
        elif kind == "multimodal_message":
            part = message.get("text")
            await self._on_user_message(conv, part.get("text") if isinstance(part, dict) else None)
        elif kind == "client_tool_result":
            await self._on_tool_result(conv, message)
        elif kind == "contextual_update":
            context_id = message.get("context_id")
            if context_id is not None:
                conv.history[:] = [e for e in conv.history if e.get("context_id") != context_id]
            entry = {"role": "context", "text": message["text"], "context_id": context_id}
            conv.history.append(entry)
        elif kind == "user_activity":
            conv.user_activity += 1
        # feedback and mcp_tool_approval_result are recorded in ``received`` only.

    async def _on_initiation(self, conv: Conversation, message: Event) -> None:
        if conv.started:
            self.violations.append(
                "conversation_initiation_client_data: only allowed as the first message (ignored)"
            )
            return
        conv.initiation = message
        try:
            conv.agent = apply_overrides(conv.agent, message.get("conversation_config_override"))
        except OverrideError as exc:
            await self._fail(conv, 1008, "override_error", str(exc))
            return
        await self._begin(conv)

    def _on_pong(self, conv: Conversation, event_id: int) -> None:
        for ping in conv.pings:
            if ping.event_id == event_id:
                if not ping.answered:
                    ping.answered = True
                    elapsed = asyncio.get_running_loop().time() - ping.sent_at
                    ping.latency_ms = elapsed * 1000
                return
        self.violations.append(f"pong: no ping with event_id {event_id}")

    async def _ping(self, conv: Conversation) -> int:
        conv.ping_ids += 1
        record = PingRecord(conv.ping_ids, conv.conversation_id, asyncio.get_running_loop().time())
        conv.pings.append(record)
        ping = {"event_id": record.event_id, "ping_ms": conv.last_latency_ms()}
        await self._send(conv, {"type": "ping", "ping_event": ping})
        return record.event_id

    async def _ping_loop(self, conv: Conversation, interval: float) -> None:
        while not conv.closed:
            await asyncio.sleep(interval)
            latest = conv.pings[-1] if conv.pings else None
            if self.strict_pongs and latest is not None and not latest.answered:
                self.violations.append(f"pong: ping {latest.event_id} was not answered")
                await self._close(conv, 1002, "pong not received")
                return
            await self._ping(conv)

    # --- sending and closing -----------------------------------------------------------------

    async def _send(self, conv: Conversation, event: Event, *, filtered: bool = True) -> None:
        kind = str(event.get("type"))
        if filtered and kind not in _ALWAYS_SENT and kind not in conv.agent.client_events:
            return
        self.sent_violations.extend(validate_elevenlabs_server(event))
        text = json.dumps(event)
        conv.sent.append(json.loads(text))
        self.sent.append(json.loads(text))
        await conv.ws.send(text)

    async def _reject(self, conv: Conversation, what: str, message: str) -> None:
        self.violations.append(f"{what}: {message}")
        await self._fail(conv, 1008, "invalid_message", message)

    async def _fail(self, conv: Conversation, code: int, error_type: str, message: str) -> None:
        """What ElevenLabs does on an error: an ``error`` event, then the close code."""
        error = {"code": code, "message": message, "error_type": error_type, "reason": message}
        with contextlib.suppress(ConnectionClosed):
            await self._send(conv, {"type": "error", "error_event": error})
        await self._close(conv, code, message)

    async def _close(self, conv: Conversation, code: int, reason: str) -> None:
        conv.closed = True
        conv.close_code = code
        await self._cancel_turn(conv)
        await conv.ws.close(code, _close_reason(reason))

    def _spawn(self, conv: Conversation, work: Awaitable[None]) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await work
            except ConnectionClosed:
                pass
            except Exception:
                _logger.exception(
                    "fake ElevenLabs server: a task of %s failed", conv.conversation_id
                )

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _live(self) -> list[Conversation]:
        return [conv for conv in self.conversations if not conv.closed]


def _kind(message: Mapping[str, Any]) -> str:
    if "type" not in message and _AUDIO in message:
        return _AUDIO
    return str(message.get("type"))


def _is_initiation(frame: str | bytes) -> bool:
    try:
        message = json.loads(frame)
    except ValueError:
        return False
    return (
        isinstance(message, dict) and message.get("type") == "conversation_initiation_client_data"
    )


def _close_reason(reason: str) -> str:
    """A close reason fits in 123 UTF-8 bytes."""
    encoded = reason.encode()[:120]
    return encoded.decode(errors="ignore")
