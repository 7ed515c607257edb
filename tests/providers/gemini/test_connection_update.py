"""``session.update`` on a live Gemini connection: Gemini fixes a socket's setup, so the change
moves the session to a new socket with the new setup and the latest handle, the same way goAway
does (frames before the update on the old socket, the rest on the new one, nothing lost or
twice, invisible to the application). Real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from voicewire.protocol import (
    AudioFormat,
    AudioInputAppend,
    SessionConfig,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    TransportStatus,
)
from voicewire.providers.gemini import ResumePolicy

from .support import (
    TURN_COMPLETE,
    Peer,
    RawGemini,
    Recorder,
    connect,
    first_socket,
    frame,
    frames_at_least,
    idle,
    indices,
    new_handle,
    received_audio,
    stream,
    until,
)

pytestmark = pytest.mark.timeout(30)

NEW = SessionConfig(input_audio_format=AudioFormat.pcm16(16000), instructions="Speak French.")
HANDLE = new_handle("h-1")


def setup_of(peer: Peer) -> dict[str, Any]:
    setup: dict[str, Any] = peer.received[0]["setup"]
    return setup


async def test_an_update_moves_to_a_socket_with_the_new_setup_losing_nothing() -> None:
    async def talk(peer: Peer) -> None:
        await peer.recv_until(frames_at_least(5))
        await peer.send(HANDLE)

    async with RawGemini(first_socket(talk)) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await stream(connection, range(5))
        await until(lambda: connection.resume_handle == "h-1")
        await stream(connection, range(5, 8))  # after the handle: written again
        connection.send(SessionUpdate(NEW))
        await stream(connection, range(8, 12))  # after the update: the new socket's
        await until(received_audio(server, 1, 7))
        first, second = server.peers
        assert indices(first.received) == list(range(8))
        assert indices(second.received) == list(range(5, 12))
        assert setup_of(second)["sessionResumption"] == {"handle": "h-1"}
        assert setup_of(second)["systemInstruction"] == {"parts": [{"text": "Speak French."}]}
        assert "systemInstruction" not in setup_of(first)
        assert first.ws.close_code == 1000  # closed before the new socket was dialled
        assert [type(e) for e in recorder.events] == [SessionCreated, SessionUpdated]
        assert recorder.statuses == []
        assert first.violations == second.violations == []
        await connection.close()


async def test_an_update_mid_answer_waits_for_its_end_and_a_fresh_handle() -> None:
    answered = asyncio.Event()

    async def talk(peer: Peer) -> None:
        await peer.send(HANDLE)
        part = {"text": "Bonjour"}
        await peer.send({"serverContent": {"modelTurn": {"parts": [part]}}})
        await answered.wait()
        await peer.send(TURN_COMPLETE)
        await peer.send(new_handle("h-2"))

    async with RawGemini(first_socket(talk)) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(recorder.saw("response.created"))
        connection.send(SessionUpdate(NEW))
        await stream(connection, range(3))  # said during the answer: held for the new setup
        await asyncio.sleep(0.05)
        assert len(server.peers) == 1 and indices(server.peers[0].received) == []
        answered.set()
        await until(received_audio(server, 1, 3))
        second = server.peers[1]
        assert setup_of(second)["sessionResumption"] == {"handle": "h-2"}
        assert indices(second.received) == [0, 1, 2]
        kinds = recorder.kinds()
        assert kinds.index("response.done") < kinds.index("session.updated")
        await connection.close()


async def test_before_anything_is_said_an_update_without_a_handle_opens_a_new_session() -> None:
    async with RawGemini(idle) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        connection.send(SessionUpdate(NEW))
        connection.send(AudioInputAppend(frame(0)))
        await until(received_audio(server, 1, 1))
        first, second = server.peers
        assert setup_of(second)["sessionResumption"] == {}
        assert setup_of(second)["systemInstruction"] == {"parts": [{"text": "Speak French."}]}
        assert [list(f) for f in first.received] == [["setup"]]
        assert [type(e) for e in recorder.events] == [SessionCreated, SessionUpdated]
        await connection.close()


async def test_an_update_with_no_handle_after_words_ends_the_link_clearly() -> None:
    """Without a handle the conversation cannot move to a new socket; the connection says so
    and ends, and the session's own reconnect (history replayed) opens with the new config."""

    policy = ResumePolicy(backoff=(0.0,), update_wait=0.2, fresh_handle_wait=0.1)
    async with RawGemini(idle) as server:
        connection = await connect(server, policy=policy)
        recorder = Recorder(connection)
        connection.send(AudioInputAppend(frame(0)))
        await until(received_audio(server, 0, 1))
        connection.send(SessionUpdate(NEW))
        await recorder.ended.wait()
        [error] = recorder.errors()
        assert error.code == "connection_lost" and error.fatal
        assert "session.update" in error.message
        assert recorder.statuses == [TransportStatus.DISCONNECTED]
        assert len(server.peers) == 1


async def test_a_change_of_formats_only_needs_no_new_socket() -> None:
    async with RawGemini(idle) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        connection.send(SessionUpdate(SessionConfig(input_audio_format=AudioFormat.pcm16(8000))))
        connection.send(AudioInputAppend(bytes(16000)))  # 1 s at 8 kHz
        await until(received_audio(server, 0, 1))
        [audio] = [f["realtimeInput"]["audio"] for f in server.peers[0].received[1:]]
        # resampled to 16 kHz: about twice the bytes (less what the resampler still holds)
        assert 29000 < len(base64.b64decode(audio["data"])) <= 32000
        assert len(server.peers) == 1
        assert [type(e) for e in recorder.events] == [SessionCreated, SessionUpdated]
        await connection.close()


async def test_a_go_away_sent_during_a_resumed_sockets_setup_is_acted_on() -> None:
    """A goAway that a new socket sends before ``setupComplete`` is not lost: once the socket
    carries the session, the connection moves on again before its time runs out."""

    async def handler(peer: Peer) -> None:
        setup = await peer.recv()
        assert "setup" in setup
        if peer.index == 1:
            await peer.send({"goAway": {"timeLeft": "1s"}})
        await peer.send({"setupComplete": {}})
        await peer.send(HANDLE)
        if peer.index == 0:
            await peer.fail()
            return
        await peer.pump()

    async with RawGemini(handler) as server:
        connection = await connect(server)
        recorder = Recorder(connection)
        await until(lambda: len(server.peers) == 3 and connection.resumptions == 2)
        assert setup_of(server.peers[2])["sessionResumption"] == {"handle": "h-1"}
        assert recorder.errors() == []
        await connection.close()
