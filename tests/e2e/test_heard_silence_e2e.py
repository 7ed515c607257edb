"""Silence the model has and heard as silence is not sent again after a drop; what was said into
the dead link is. The session's link pings (a FaultProxy between it and the fake server on
127.0.0.1 can blackhole it); the fake server's voice detection says where speech starts. The
ledger's rule is unit-tested in tests/session/test_unacked.py."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest

from tests.e2e.test_dead_link_e2e import proxied_session
from tests.e2e.test_session_e2e import until
from voicewire.testing import FakeRealtimeServer, FaultProxy, TextReply, silence, tone

pytestmark = pytest.mark.timeout(30)

GIVE_UP_S = 10.0
"""A failure bound for waits (a lost message never gets an answer): not a timing assertion."""
BYTES_PER_MS = 48
"""24 kHz PCM16, the session's default input format."""
SILENCE_MS = 5000
"""Silence streamed in real time before the link dies: pings (every 0.5 s) prove most of it
delivered, and the ledger keeps only the last 1.3 s of what they prove, plus what follows."""


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    """OpenAI's dialect, whose ``speech_started`` says where speech starts."""
    async with FakeRealtimeServer(api_key="sk-test") as fake:
        yield fake


def appended_ms(messages: list[dict[str, object]]) -> float:
    audio = [
        base64.b64decode(str(m["audio"]))
        for m in messages
        if m["type"] == "input_audio_buffer.append"
    ]
    return sum(len(a) for a in audio) / BYTES_PER_MS


async def test_heard_silence_stays_behind_and_speech_into_the_dead_link_comes_back(
    server: FakeRealtimeServer,
) -> None:
    server.script.default = TextReply("heard you")
    server.script.input_transcript = "what time is it"
    async with FaultProxy.to(server.base_url) as proxy, proxied_session(server, proxy) as session:
        session.send_audio(tone(600))  # a first turn: the model shows where speech starts
        session.send_audio(silence(400))
        await until(session, "text.output")
        for _ in range(SILENCE_MS // 100):  # the user listens; the pings go on
            session.send_audio(silence(100))
            await asyncio.sleep(0.1)
        first_link = len(server.received)
        proxy.blackhole()  # the link dies: status still connected
        session.send_audio(tone(600))  # the user speaks into the dead link
        session.send_audio(silence(400))
        async with asyncio.timeout(GIVE_UP_S):
            events = await until(session, "text.output")
    assert [e.text for e in events if e.kind == "text.output"] == ["heard you"]  # type: ignore[attr-defined]
    assert session.reconnects == 1
    # The new link heard the turn said into the dead one (committed once there), and of the 5 s
    # of silence before it only what no pong had proven, plus the padding and margin.
    new_link = server.received[first_link:]
    assert server.sent_types().count("input_audio_buffer.committed") == 2
    resent_silence_ms = appended_ms(new_link) - 1000
    assert 0 < resent_silence_ms < SILENCE_MS - 1000
    assert not server.violations and not server.errors
