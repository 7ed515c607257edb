"""The local connection reports delivery (``ReportsDelivery``): an in-process pipeline has every
event it has taken in, so the session's ledger need not keep minutes of silence the model has
already heard (see :mod:`voicewire.session.unacked`, "Memory")."""

from __future__ import annotations

import asyncio

import pytest

from voicewire.protocol import AudioInputAppend, ReportsDelivery, SessionConfig, TurnDetection
from voicewire.providers import local

from .conftest import Speech
from .test_pipeline import make_agent, open_session, silence, until

pytestmark = pytest.mark.timeout(120)


async def test_the_connection_counts_what_its_pipeline_has_taken_in(loaded: None) -> None:
    connection = await local.realtime().connect()
    try:
        assert isinstance(connection, ReportsDelivery)
        for _ in range(5):
            connection.send(AudioInputAppend(silence(100)))
        assert connection.delivered == 0  # queued: the voice detection has not seen it yet
        await until(lambda: connection.delivered >= 5, "the pipeline took in five appends")
        assert connection.delivered == 5
    finally:
        await connection.close()


async def test_a_session_keeps_only_the_recent_silence_the_local_model_has_heard(
    speech: Speech, loaded: None
) -> None:
    config = SessionConfig(turn_detection=TurnDetection(create_response=False))
    session, rec = open_session(make_agent(), config=config)
    async with session:
        session.send_audio(speech.pcm("hello") + silence(1500))
        await rec.wait_for("transcript.input", 60)  # the turn is in the history
        for _ in range(200):  # 20 s of silence, more than the ledger's 15 s byte bound
            session.send_audio(silence(100))
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        session.send_audio(silence(100))  # the ledger looks at the delivered count on a send
        kept_s = session._unacked.audio_bytes / session.input_format.bytes_per_second
    # The turn's padding plus the detector's margin (about 1.3 s), not the 15 s byte bound.
    assert kept_s < 3.0
