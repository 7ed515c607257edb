"""The session honours the model's capabilities over the real provider stack (model, connection,
codec, websockets) against the fake server: on xAI, which cannot truncate, a barge-in cuts the
history without a word to the server and without an error; asking for a truncate raises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voicewire.protocol import ItemTruncate, SessionError, TurnDetection, UnsupportedEventError
from voicewire.testing import AudioReply, FakeRealtimeServer

from .test_session_e2e import RealTimeSpeaker, session_for, speak, until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def xai_server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(dialect="xai", api_key="sk-test") as fake:
        yield fake


async def test_barge_in_on_xai_cuts_history_without_truncate_or_error(
    xai_server: FakeRealtimeServer,
) -> None:
    xai_server.script.default = AudioReply("A long answer " * 10, duration_ms=4000, pace=0.02)
    speaker = RealTimeSpeaker()
    vad = TurnDetection("server_vad", silence_duration_ms=200)
    async with session_for(xai_server, speaker, turn_detection=vad) as session:
        errors: list[SessionError] = []
        session.on("error", errors.append)
        session.send_message("Talk to me")
        await until(session, "audio.output.delta", count=25)
        await asyncio.sleep(0.2)
        await speak(session, 200, 0)
        [*_, interrupted] = await until(session, "response.interrupted")
        await until(session, "response.done")
        with pytest.raises(UnsupportedEventError, match="xai model"):
            session.send(ItemTruncate(interrupted.item_id or "item", 100))  # type: ignore[union-attr]
    heard = interrupted.audio_end_ms  # type: ignore[union-attr]
    assert heard is not None and list(session.history.truncated_at.values()) == [heard]
    assert "conversation.item.truncate" not in xai_server.received_types()
    assert errors == []
    assert xai_server.violations == [] and xai_server.errors == []
