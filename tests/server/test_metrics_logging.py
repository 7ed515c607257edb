"""Log lines written on behalf of a served session carry that session's label, whichever task
of the session wrote them, and never its token."""

from __future__ import annotations

import logging

import httpx
import pytest

from voicewire import RealtimeAgent
from voicewire.providers.openai import OpenAIRealtimeModel
from voicewire.server import create_app
from voicewire.session import ReconnectPolicy
from voicewire.testing import FakeRealtimeServer, TextReply

from .conftest import raw_client, serve, user_text

pytestmark = pytest.mark.timeout(30)


async def test_a_sessions_log_lines_carry_its_label(
    agent: RealtimeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="voicewire")
    async with FakeRealtimeServer(api_key="sk-test") as upstream:
        upstream.script.default = TextReply("still here")
        model = OpenAIRealtimeModel(api_key="sk-test", base_url=upstream.base_url)
        app = create_app(agent, model, reconnect=ReconnectPolicy(initial_delay=0.01))
        async with serve(app) as served:
            token = served.token()
            async with raw_client(served, token) as one, raw_client(served) as two:
                ports = {one.ws.local_address[1], two.ws.local_address[1]}
                await upstream.drop_connections()  # each session's link reader notices
                for client in (one, two):
                    await client.send(user_text("are you there?"))
                    await client.send({"type": "response.create"})
                    await client.until("response.done")
            await served.wait_idle()
            async with httpx.AsyncClient() as http:  # outside any session
                await http.post(f"{served.http}/realtime/credential")
    reconnected = [
        r
        for r in caplog.records
        if r.name == "voicewire.session" and "reconnected after" in r.getMessage()
    ]
    assert len(reconnected) == 2
    named = set()
    for record in reconnected:
        line = record.getMessage()
        [port] = [port for port in ports if f"(127.0.0.1:{port}): reconnected after" in line]
        named.add(port)
        assert record.voicewire_session.endswith(f"(127.0.0.1:{port})")  # type: ignore[attr-defined]
    assert named == ports  # each session's line names that session
    [issued] = [r for r in caplog.records if "issued a voicewire token" in r.getMessage()]
    assert not issued.getMessage().startswith("session ")
    assert not hasattr(issued, "voicewire_session")
    connected = [r.getMessage() for r in caplog.records if r.getMessage().endswith(": connected")]
    assert len(connected) == 2
    assert all(line.count("session ") == 1 for line in connected)  # named once, not twice
    assert token not in caplog.text
