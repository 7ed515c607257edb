"""GeminiConnection moves a session to a new socket without the application noticing: on goAway
(audio flowing: no frame lost, none twice), on an unexpected close with a handle, and from a
handle the application kept; a fatal close (1007) or a close without a handle ends it with a
clear error instead. Real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import pytest

from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    ConfigurationError,
    ConnectOptions,
    HandshakeError,
    ItemCreate,
    ResumeConfig,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    ToolResult,
    TransportStatus,
    user_text,
)
from voicewire.providers import gemini
from voicewire.providers.gemini import GeminiConnection, ResumePolicy

from .support import Peer, RawGemini, received_audio, until

pytestmark = pytest.mark.timeout(30)

CONFIG = SessionConfig(input_audio_format=AudioFormat.pcm16(16000))
FAST = ResumePolicy(attempts=3, backoff=(0.0, 0.05), go_away_margin=0.2, setup_timeout=5.0)


def frame(index: int) -> bytes:
    """20 ms of 16 kHz audio that says which frame it is."""
    return struct.pack("<H", index) * 320


def index_of(message: dict[str, Any]) -> int | None:
    audio = message.get("realtimeInput", {}).get("audio")
    if audio is None:
        return None
    data = base64.b64decode(audio["data"])
    return int(struct.unpack("<H", data[:2])[0])


def indices(frames: list[dict[str, Any]]) -> list[int]:
    return [i for i in map(index_of, frames) if i is not None]


class Recorder:
    """Every event and status of a connection."""

    def __init__(self, connection: GeminiConnection) -> None:
        self.events: list[ServerEvent] = []
        self.statuses: list[TransportStatus] = []
        self.ended = asyncio.Event()
        connection.on_status(self.statuses.append)
        connection.deliver_to(self.events.append, self.ended.set)

    def errors(self) -> list[SessionError]:
        return [e for e in self.events if isinstance(e, SessionError)]


async def connect(server: RawGemini, **options: Any) -> GeminiConnection:
    model = gemini.realtime(api_key="g-test", base_url=server.base_url, resume_policy=FAST)
    return await model.connect(ConnectOptions(session_config=CONFIG, **options))


async def stream(connection: GeminiConnection, frames: range) -> None:
    for i in frames:
        connection.send(AudioInputAppend(frame(i)))
        await asyncio.sleep(0.002)


async def test_go_away_moves_to_a_new_socket_with_nothing_lost_and_nothing_twice() -> None:
    handle_at = 50
    go_away_at = 80
    resumed_setup: list[dict[str, Any]] = []

    async def handler(peer: Peer) -> None:
        setup = await peer.handshake("s-go-away")
        if len(server.peers) == 1:
            while len(indices(peer.received)) < handle_at:
                await peer.recv()
            await peer.send(
                {"sessionResumptionUpdate": {"newHandle": f"h-{handle_at}", "resumable": True}}
            )
            while len(indices(peer.received)) < go_away_at:
                await peer.recv()
            await peer.send({"goAway": {"timeLeft": "3s"}})
        else:
            resumed_setup.append(setup)
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await stream(connection, range(handle_at))
        await until(lambda: connection.resume_handle == f"h-{handle_at}")  # those frames
        await stream(connection, range(handle_at, 200))
        await until(received_audio(server, 1, 200 - handle_at))
        first, second = server.peers
        # The session as resumed: the frames the handle holds, then all the new socket got.
        assert indices(first.received)[:handle_at] + indices(second.received) == list(range(200))
        # What the old socket got after the handle was written again, once, in order.
        after = indices(first.received)[handle_at:]
        assert indices(second.received)[: len(after)] == after
        assert resumed_setup[0]["setup"]["sessionResumption"] == {"handle": f"h-{handle_at}"}
        assert first.ws.close_code == 1000  # closed by the client before it dialled again
        assert connection.resumptions == 1
        # Invisible to the application: one session.created, no error, no status change.
        assert [type(e) for e in recorder.events] == [SessionCreated]
        assert recorder.statuses == []
        assert connection.session_id == "s-go-away"
        assert first.violations == [] and second.violations == []
        await connection.close()


async def test_go_away_mid_turn_waits_for_the_turn_and_a_fresh_handle() -> None:
    chunk = base64.b64encode(b"\x00\x01" * 2400).decode()
    blob = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": chunk}}
    resumed_with: list[str] = []

    async def handler(peer: Peer) -> None:
        setup = await peer.handshake()
        if len(server.peers) > 1:
            resumed_with.append(setup["setup"]["sessionResumption"]["handle"])
            await peer.pump()
            return
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-old", "resumable": True}})
        await peer.send({"serverContent": {"modelTurn": {"parts": [blob]}}})
        await peer.send({"sessionResumptionUpdate": {"resumable": False}})
        await peer.send({"goAway": {"timeLeft": "5s"}})
        for _ in range(5):
            await peer.send({"serverContent": {"modelTurn": {"parts": [blob]}}})
        await peer.send({"serverContent": {"generationComplete": True}})
        await peer.send({"serverContent": {"turnComplete": True}})
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-new", "resumable": True}})
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: connection.resumptions >= 1)
        assert resumed_with == ["h-new"]
        kinds = [e.kind for e in recorder.events]
        assert kinds.count("audio.output.delta") == 6  # the whole turn, then the switch
        assert kinds[-1] == "response.done"
        done = recorder.events[-1]
        assert getattr(done, "status", None) == "completed"
        await connection.close()


async def test_go_away_with_no_fresh_handle_switches_before_the_deadline() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) == 1:
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
            chunk = base64.b64encode(b"\x00\x00" * 480).decode()
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": chunk}}
            await peer.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            await peer.send({"goAway": {"timeLeft": "0.5s"}})
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: connection.resumptions >= 1)
        done = [e for e in recorder.events if e.kind == "response.done"]
        assert len(done) == 1 and getattr(done[0], "status", None) == "incomplete"
        assert recorder.statuses == [] and recorder.errors() == []
        await connection.close()


async def test_unexpected_close_with_a_handle_resumes() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) == 1:
            while len(indices(peer.received)) < 10:
                await peer.recv()
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-10", "resumable": True}})
            while len(indices(peer.received)) < 20:
                await peer.recv()
            await peer.ws.close(1011, "Internal error encountered.")
            return
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await stream(connection, range(10))
        await until(lambda: connection.resume_handle == "h-10")
        await stream(connection, range(10, 60))
        await until(received_audio(server, 1, 50))
        first, second = server.peers
        assert indices(first.received)[:10] + indices(second.received) == list(range(60))
        assert second.received[0]["setup"]["sessionResumption"] == {"handle": "h-10"}
        assert recorder.statuses == [] and recorder.errors() == []
        assert connection.status is TransportStatus.CONNECTED
        await connection.close()


async def test_1007_is_fatal_and_not_retried_even_with_a_handle() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        await peer.recv()
        await peer.ws.close(1007, "Request contains an invalid argument.")

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: connection.resume_handle is not None)
        connection.send(AudioInputAppend(frame(0)))
        async with asyncio.timeout(5):
            await recorder.ended.wait()
        [error] = recorder.errors()
        assert error.code == "invalid_argument" and error.fatal
        assert "1007" in error.message and "invalid argument" in error.message
        assert recorder.statuses == [TransportStatus.DISCONNECTED]
        assert len(server.peers) == 1  # no pointless retry
        await connection.close()


async def test_a_close_without_a_handle_is_a_lost_connection() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake()
        await peer.ws.close(1011, "Deadline expired before operation could complete.")

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        async with asyncio.timeout(5):
            await recorder.ended.wait()
        [error] = recorder.errors()
        assert error.code == "connection_lost" and error.fatal
        assert "1011" in error.message and "Deadline expired" in error.message
        assert len(server.peers) == 1


@pytest.mark.parametrize(
    ("code", "reason", "error_code", "sockets"),
    [
        (1011, "service unavailable", "connection_lost", 1 + FAST.attempts),  # tried, in vain
        (1007, "setup.sessionResumption.handle: unknown handle", "invalid_argument", 2),
    ],
    ids=["retried-then-given-up", "refused-handle-not-retried"],
)
async def test_resumption_refused(code: int, reason: str, error_code: str, sockets: int) -> None:
    async def handler(peer: Peer) -> None:
        if len(server.peers) == 1:
            await peer.handshake()
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
            await asyncio.sleep(0.05)
            await peer.ws.close(1011, "Internal error encountered.")
            return
        await peer.recv()
        await peer.ws.close(code, reason)

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await recorder.ended.wait()
        [error] = recorder.errors()
        assert error.code == error_code and reason in error.message and error.fatal
        assert len(server.peers) == sockets


async def test_a_kept_handle_resumes_on_connect() -> None:
    async def handler(peer: Peer) -> None:
        await peer.handshake("s-2")
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server, resume=ResumeConfig("h-kept"))
        assert server.peers[0].received[0]["setup"]["sessionResumption"] == {"handle": "h-kept"}
        assert connection.resume_handle == "h-kept"
        await connection.close()


async def test_a_setup_refused_with_1007_fails_connect_clearly() -> None:
    async def handler(peer: Peer) -> None:
        await peer.recv()
        await peer.ws.close(1007, 'Invalid JSON payload received. Unknown name "bogus"')

    async with RawGemini(handler) as server:
        with pytest.raises(ConfigurationError, match=r"during setup.*Unknown name"):
            await connect(server)


async def test_what_is_kept_to_write_again_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a new handle for long, only the newest frames (up to a byte bound) are written
    again on a resumption: memory stays bounded, and the newest audio matters most."""
    from voicewire.providers.gemini import resumption as module

    monkeypatch.setattr(module, "RESEND_LIMIT_BYTES", 10 * 900)

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) == 1:
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-0", "resumable": True}})
            while len(indices(peer.received)) < 40:
                await peer.recv()
            await peer.ws.close(1011, "Internal error encountered.")
            return
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        await until(lambda: connection.resume_handle == "h-0")
        await stream(connection, range(40))
        await until(lambda: connection.resumptions >= 1)
        connection.send(AudioInputAppend(frame(40)))
        await until(received_audio(server, 1, 1))
        await until(lambda: 40 in indices(server.peers[1].received))
        again = indices(server.peers[1].received)
        assert again[-1] == 40
        assert 1 <= len(again) - 1 <= 10  # only the newest of the 40, in order
        assert again[:-1] == list(range(40 - len(again) + 1, 40))
        await connection.close()


async def test_after_go_away_frames_wait_for_the_new_socket_but_tool_responses_do_not() -> None:
    """A frame written while the resumed handle is on its way would be in neither the handle
    nor the resend; so from goAway on, frames wait for the new socket. A tool response goes at
    once: the turn under way (and so the switch) waits for it."""
    tool_response_seen = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) > 1:
            await peer.pump()
            return
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        await peer.send({"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup"}]}})
        await peer.send({"goAway": {"timeLeft": "10s"}})
        while not any("toolResponse" in f for f in peer.received):
            await peer.recv()
        tool_response_seen.set()
        chunk = base64.b64encode(b"\x00\x01" * 480).decode()
        part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": chunk}}
        await peer.send({"serverContent": {"modelTurn": {"parts": [part]}}})
        await peer.send({"serverContent": {"turnComplete": True}})
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-2", "resumable": True}})
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: any(e.kind == "tool.call" for e in recorder.events))
        await until(lambda: connection._holding)  # the goAway was read
        await stream(connection, range(5))  # the user speaks while the tool runs
        connection.send(ToolResult("c1", '{"ok": true}', "lookup"))
        await tool_response_seen.wait()
        await until(received_audio(server, 1, 5))
        first, second = server.peers
        assert indices(first.received) == []  # held: none written to the old socket
        assert indices(second.received) == [0, 1, 2, 3, 4]
        assert second.received[0]["setup"]["sessionResumption"] == {"handle": "h-2"}
        assert [e.kind for e in recorder.events].count("response.done") == 2
        assert recorder.errors() == [] and recorder.statuses == []
        await connection.close()


async def test_a_silent_server_fails_connect_clearly() -> None:
    async def handler(peer: Peer) -> None:
        await peer.recv()  # the setup, never answered
        await peer.pump()

    async with RawGemini(handler) as server:
        model = gemini.realtime(
            api_key="g-test",
            base_url=server.base_url,
            resume_policy=ResumePolicy(setup_timeout=0.2),
        )
        with pytest.raises(HandshakeError, match="did not answer setup"):
            await model.connect()


async def test_a_socket_whose_sends_fail_at_once_is_replaced_without_spinning() -> None:
    """A send that fails without ever yielding (a closed socket) must not make the writer retry
    the same socket in a loop that starves the event loop: the link is replaced."""
    from websockets.asyncio.client import connect as ws_connect

    failing: list[bool] = []

    async def factory(url: str, subprotocols: Any, headers: Any) -> Any:
        ws = await ws_connect(url, additional_headers=dict(headers), ping_interval=None)
        index = len(failing)
        failing.append(False)

        class Socket:
            async def send(self, message: str, /) -> None:
                if failing[index]:
                    raise ConnectionError("broken pipe")
                await ws.send(message)

            async def recv(self) -> str | bytes:
                return await ws.recv()

            async def close(self, code: int = 1000, reason: str = "") -> None:
                await ws.close(code, reason)

        return Socket()

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) == 1:
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server, websocket=factory)
        await until(lambda: connection.resume_handle == "h-1")
        failing[0] = True
        await stream(connection, range(5))
        await until(received_audio(server, 1, 5))
        assert indices(server.peers[1].received) == [0, 1, 2, 3, 4]
        assert connection.resumptions == 1
        await connection.close()


async def test_go_away_with_a_stale_handle_and_no_turn_switches_soon() -> None:
    """Frames wait for the new socket from goAway on, so with no turn under way the connection
    waits only briefly for a fresh handle, not until the deadline."""
    chunk = base64.b64encode(b"\x00\x01" * 480).decode()
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": chunk}}

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) == 1:
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-old", "resumable": True}})
            await peer.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            await peer.send({"serverContent": {"turnComplete": True}})  # no handle after it
            await peer.send({"goAway": {"timeLeft": "60s"}})
        await peer.pump()

    async with RawGemini(handler) as server:
        model = gemini.realtime(
            api_key="g-test",
            base_url=server.base_url,
            resume_policy=ResumePolicy(fresh_handle_wait=0.1),
        )
        connection = await model.connect(ConnectOptions(session_config=CONFIG))
        async with asyncio.timeout(10):  # a failure bound: the deadline is a minute away
            await until(lambda: connection.resumptions >= 1)
        assert server.peers[1].received[0]["setup"]["sessionResumption"] == {"handle": "h-old"}
        assert server.peers[0].ws.close_code == 1000
        await connection.close()


async def test_responses_to_calls_made_after_the_handle_are_not_written_again() -> None:
    """A session resumed from a handle never made the calls that came after it; Gemini refuses
    a response to an unknown call, so only the other frames are written again."""

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) > 1:
            await peer.pump()
            return
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        await peer.send({"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup"}]}})
        while len(indices(peer.received)) < 3 or not any(
            "toolResponse" in f for f in peer.received
        ):
            await peer.recv()
        await peer.ws.close(1011, "Internal error encountered.")

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: any(e.kind == "tool.call" for e in recorder.events))
        connection.send(AudioInputAppend(frame(0)))
        connection.send(ToolResult("c1", '{"ok": true}', "lookup"))
        await stream(connection, range(1, 3))
        await until(received_audio(server, 1, 3))
        second = server.peers[1].received
        assert indices(second) == [0, 1, 2]
        assert not any("toolResponse" in f for f in second)
        await connection.close()


async def test_a_queued_response_to_a_call_made_after_the_handle_is_not_written() -> None:
    """The socket drops between a tool call and its result: the result, still queued when the
    session resumes from a handle older than the call, is not written to the new socket (the
    resumed session never made that call), yet the ledger still hears it was taken."""
    resumed = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if len(server.peers) > 1:
            await resumed.wait()  # the result is sent while the session is resuming
        await peer.handshake()
        if len(server.peers) > 1:
            await peer.pump()
            return
        await peer.send({"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        await peer.send({"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup"}]}})
        await peer.ws.close(1011, "Internal error encountered.")

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: any(e.kind == "tool.call" for e in recorder.events))
        await until(lambda: len(server.peers) == 2)
        connection.send(ToolResult("c1", '{"ok": true}', "lookup"))
        connection.send(AudioInputAppend(frame(7)))
        resumed.set()
        await until(received_audio(server, 1, 1))
        second = server.peers[1].received
        assert indices(second) == [7]
        assert not any("toolResponse" in f for f in second)
        assert any(
            e.kind == "item.created" and e.item.kind == "tool_result" for e in recorder.events
        )  # type: ignore[attr-defined]
        assert recorder.errors() == []
        await connection.close()


async def test_past_the_bound_audio_goes_first_and_typed_words_stay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the bound, the oldest audio is dropped, not what the user typed: a resumption still
    writes the words again (and the newest audio)."""
    from voicewire.providers.gemini import resumption as module

    monkeypatch.setattr(module, "RESEND_LIMIT_BYTES", 10 * 900)

    async def handler(peer: Peer) -> None:
        await peer.handshake()
        if len(server.peers) == 1:
            await peer.send({"sessionResumptionUpdate": {"newHandle": "h-0", "resumable": True}})
            while len(indices(peer.received)) < 40:
                await peer.recv()
            await peer.ws.close(1011, "Internal error encountered.")
            return
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        await until(lambda: connection.resume_handle == "h-0")
        connection.send(ItemCreate(user_text("remember the blue door")))
        await stream(connection, range(40))
        await until(lambda: connection.resumptions >= 1)
        connection.send(AudioInputAppend(frame(40)))
        await until(lambda: 40 in indices(server.peers[1].received))
        again = server.peers[1].received
        [typed] = [f for f in again if "clientContent" in f]
        assert typed["clientContent"]["turns"][0]["parts"] == [{"text": "remember the blue door"}]
        assert again.index(typed) == 1  # first, as it was written before the audio
        assert indices(again)[-1] == 40 and 1 <= len(indices(again)) - 1 <= 10
        await connection.close()
