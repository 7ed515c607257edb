"""The session refuses to send from the moment it gives up, before its status says so: an app
that answers the fatal ``connection_lost`` error by sending gets the clear refusal, and nothing
is queued silently (why "gave up" is state of its own, not derived from the status)."""

from __future__ import annotations

import pytest

from tests.session.test_session_reconnect import AGENT, FlakyModel, wait_for_status, wait_until
from voicewire import RealtimeSession
from voicewire.protocol import ConnectionClosedError, SessionError, TransportStatus
from voicewire.session import ReconnectPolicy
from voicewire.testing import TextReply


@pytest.mark.parametrize("attempts", [0, 2], ids=["no-reconnect", "reconnects-refused"])
async def test_a_handler_of_the_fatal_error_already_finds_the_session_refusing(
    attempts: int,
) -> None:
    model = FlakyModel(refusals=attempts)
    model.script.default = TextReply("hi")
    policy = ReconnectPolicy(attempts=attempts, initial_delay=0.01)
    session = RealtimeSession(AGENT, model=model, reconnect=policy)
    outcomes: list[str] = []

    def answer(error: SessionError) -> None:
        if error.fatal:
            try:
                session.send_message("are you there?")
                outcomes.append(f"sent while {session.status.value}")
            except ConnectionClosedError:
                outcomes.append(f"refused while {session.status.value}")

    session.on("error", answer)
    await session.connect()
    session.send_message("first")
    await wait_until(lambda: len(session.history) == 2)
    received = len(model.received)
    await model.connections[0].drop()
    await wait_for_status(session, TransportStatus.DISCONNECTED)
    # The status changes after the error is told: the session refused all the same.
    assert len(outcomes) == 1 and outcomes[0].startswith("refused while")
    assert outcomes[0] != "refused while disconnected"
    assert len(model.received) == received
    await session.connect()  # and nothing was queued for the next link
    session.send_message("second")
    await wait_until(lambda: len(session.history) == 4)
    assert not any("are you there?" in repr(event) for event in model.received[received:])
    await session.close()
