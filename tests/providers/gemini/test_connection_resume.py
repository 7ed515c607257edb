"""GeminiConnection moves a session to a new socket without the application noticing: on goAway
(audio flowing: no frame lost, none twice), on an unexpected close with a handle, and from a
handle the application kept; a fatal close (1007) or a close without a handle ends it with a
clear error instead. Real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voicewire.protocol import (
    AudioInputAppend,
    ConfigurationError,
    HandshakeError,
    ItemCreate,
    ResumeConfig,
    SessionCreated,
    TransportStatus,
    user_text,
)
from voicewire.providers.gemini import ResumePolicy

from .support import (
    FAST,
    TOOL_CALL,
    TOOL_RESULT,
    TURN_COMPLETE,
    Peer,
    RawGemini,
    Recorder,
    connect,
    first_socket,
    frame,
    frames_at_least,
    indices,
    model_audio,
    new_handle,
    received_audio,
    stream,
    tool_response_in,
    until,
)

pytestmark = pytest.mark.timeout(30)


async def test_go_away_moves_to_a_new_socket_with_nothing_lost_and_nothing_twice() -> None:
    handle_at = 50
    go_away_at = 80
    resumed_setup: list[dict[str, Any]] = []

    async def handler(peer: Peer) -> None:
        setup = await peer.handshake("s-go-away")
        if peer.index == 0:
            await peer.recv_until(frames_at_least(handle_at))
            await peer.send(new_handle(f"h-{handle_at}"))
            await peer.recv_until(frames_at_least(go_away_at))
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
    speech = model_audio(b"\x00\x01" * 2400)
    resumed_with: list[str] = []

    async def handler(peer: Peer) -> None:
        setup = await peer.handshake()
        if peer.index > 0:
            resumed_with.append(setup["setup"]["sessionResumption"]["handle"])
            await peer.pump()
            return
        await peer.send(new_handle("h-old"))
        await peer.send(speech)
        await peer.send({"sessionResumptionUpdate": {"resumable": False}})
        await peer.send({"goAway": {"timeLeft": "5s"}})
        for _ in range(5):
            await peer.send(speech)
        await peer.send({"serverContent": {"generationComplete": True}})
        await peer.send(TURN_COMPLETE)
        await peer.send(new_handle("h-new"))
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: connection.resumptions >= 1)
        assert resumed_with == ["h-new"]
        kinds = recorder.kinds()
        assert kinds.count("audio.output.delta") == 6  # the whole turn, then the switch
        assert kinds[-1] == "response.done"
        done = recorder.events[-1]
        assert getattr(done, "status", None) == "completed"
        await connection.close()


async def test_go_away_with_no_fresh_handle_switches_before_the_deadline() -> None:
    async def talk(peer: Peer) -> None:
        await peer.send(new_handle("h-1"))
        await peer.send(model_audio(b"\x00\x00" * 480))
        await peer.send({"goAway": {"timeLeft": "0.5s"}})

    async with RawGemini(first_socket(talk)) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: connection.resumptions >= 1)
        done = [e for e in recorder.events if e.kind == "response.done"]
        assert len(done) == 1 and getattr(done[0], "status", None) == "incomplete"
        assert recorder.statuses == [] and recorder.errors() == []
        await connection.close()


async def test_unexpected_close_with_a_handle_resumes() -> None:
    async def talk(peer: Peer) -> None:
        await peer.recv_until(frames_at_least(10))
        await peer.send(new_handle("h-10"))
        await peer.recv_until(frames_at_least(20))
        await peer.fail()

    async with RawGemini(first_socket(talk)) as server:
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
        await peer.send(new_handle("h-1"))
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
        if peer.index == 0:
            await peer.handshake()
            await peer.send(new_handle("h-1"))
            await asyncio.sleep(0.05)
            await peer.fail()
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


async def fails_after_40_frames(peer: Peer) -> None:
    """The first socket: a handle at once, then 40 frames that no later handle holds."""
    await peer.send(new_handle("h-0"))
    await peer.recv_until(frames_at_least(40))
    await peer.fail()


async def test_what_is_kept_to_write_again_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a new handle for long, only the newest frames (up to a byte bound) are written
    again on a resumption: memory stays bounded, and the newest audio matters most."""
    from voicewire.providers.gemini import resumption as module

    monkeypatch.setattr(module, "RESEND_LIMIT_BYTES", 10 * 900)

    async with RawGemini(first_socket(fails_after_40_frames)) as server:
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

    async def talk(peer: Peer) -> None:
        await peer.send(new_handle("h-1"))
        await peer.send(TOOL_CALL)
        await peer.send({"goAway": {"timeLeft": "10s"}})
        await peer.recv_until(tool_response_in)
        tool_response_seen.set()
        await peer.send(model_audio(b"\x00\x01" * 480))
        await peer.send(TURN_COMPLETE)
        await peer.send(new_handle("h-2"))

    async with RawGemini(first_socket(talk)) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(recorder.saw("tool.call"))
        await until(lambda: connection._holding)  # the goAway was read
        await stream(connection, range(5))  # the user speaks while the tool runs
        connection.send(TOOL_RESULT)
        await tool_response_seen.wait()
        await until(received_audio(server, 1, 5))
        first, second = server.peers
        assert indices(first.received) == []  # held: none written to the old socket
        assert indices(second.received) == [0, 1, 2, 3, 4]
        assert second.received[0]["setup"]["sessionResumption"] == {"handle": "h-2"}
        assert recorder.kinds().count("response.done") == 2
        assert recorder.errors() == [] and recorder.statuses == []
        await connection.close()


async def test_a_silent_server_fails_connect_clearly() -> None:
    async def handler(peer: Peer) -> None:
        await peer.recv()  # the setup, never answered
        await peer.pump()

    async with RawGemini(handler) as server:
        with pytest.raises(HandshakeError, match="did not answer setup"):
            await connect(server, policy=ResumePolicy(setup_timeout=0.2))


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

    async def talk(peer: Peer) -> None:
        await peer.send(new_handle("h-1"))

    async with RawGemini(first_socket(talk)) as server:
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

    async def talk(peer: Peer) -> None:
        await peer.send(new_handle("h-old"))
        await peer.send(model_audio(b"\x00\x01" * 480))
        await peer.send(TURN_COMPLETE)  # no handle after it
        await peer.send({"goAway": {"timeLeft": "60s"}})

    async with RawGemini(first_socket(talk)) as server:
        connection = await connect(server, policy=ResumePolicy(fresh_handle_wait=0.1))
        async with asyncio.timeout(10):  # a failure bound: the deadline is a minute away
            await until(lambda: connection.resumptions >= 1)
        assert server.peers[1].received[0]["setup"]["sessionResumption"] == {"handle": "h-old"}
        assert server.peers[0].ws.close_code == 1000
        await connection.close()


async def test_responses_to_calls_made_after_the_handle_are_not_written_again() -> None:
    """A session resumed from a handle never made the calls that came after it; Gemini refuses
    a response to an unknown call, so only the other frames are written again."""

    async def talk(peer: Peer) -> None:
        await peer.send(new_handle("h-1"))
        await peer.send(TOOL_CALL)
        await peer.recv_until(lambda got: frames_at_least(3)(got) and tool_response_in(got))
        await peer.fail()

    async with RawGemini(first_socket(talk)) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(recorder.saw("tool.call"))
        connection.send(AudioInputAppend(frame(0)))
        connection.send(TOOL_RESULT)
        await stream(connection, range(1, 3))
        await until(received_audio(server, 1, 3))
        second = server.peers[1].received
        assert indices(second) == [0, 1, 2]
        assert not tool_response_in(second)
        await connection.close()


async def test_a_queued_response_to_a_call_made_after_the_handle_is_not_written() -> None:
    """The socket drops between a tool call and its result: the result, still queued when the
    session resumes from a handle older than the call, is not written to the new socket (the
    resumed session never made that call), yet the ledger still hears it was taken."""
    resumed = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index > 0:
            await resumed.wait()  # the result is sent while the session is resuming
        await peer.handshake()
        if peer.index > 0:
            await peer.pump()
            return
        await peer.send(new_handle("h-1"))
        await peer.send(TOOL_CALL)
        await peer.fail()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(recorder.saw("tool.call"))
        await until(lambda: len(server.peers) == 2)
        connection.send(TOOL_RESULT)
        connection.send(AudioInputAppend(frame(7)))
        resumed.set()
        await until(received_audio(server, 1, 1))
        second = server.peers[1].received
        assert indices(second) == [7]
        assert not tool_response_in(second)
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

    async with RawGemini(first_socket(fails_after_40_frames)) as server:
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
