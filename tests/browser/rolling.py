"""A rolling restart on one machine, for the browser test of it: voicewire instances as real
processes sharing one Redis, and a small load balancer in front of them.

* :func:`main` (``python -m tests.browser.rolling PORT REDIS_URL SECRET``) is one instance: the
  app a deployment would run (one secret, one Redis, drain on SIGTERM) with a scripted model that
  answers "what did I say?" from the conversation its link holds, so an answer on the second
  instance proves the conversation came with the session.
* :class:`Balancer` forwards each TCP connection, as it arrives, to the first backend whose
  ``/readyz`` answers 200: what a load balancer with health checks does, without stickiness.
  A draining instance reports not ready before it closes its sessions, so the reconnects it
  causes go to the other one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import httpx

from voicewire import RealtimeAgent
from voicewire.protocol import MessageItem
from voicewire.server import create_app
from voicewire.server.http_limits import ServeOptions, uvicorn_server
from voicewire.server.state import RedisState
from voicewire.testing import AudioReply, ScriptedModel
from voicewire.testing.script import Reply, Script

HEARD = "my favourite number is seven"
"""What the instances' model hears in the user's first (spoken) turn."""
NOTED = "Noted."
RECALL = "what did I say?"


class Recall(Script):
    """Answers :data:`RECALL` with the first thing the user said, as its link holds it."""

    def __init__(self, model: ScriptedModel) -> None:
        super().__init__()
        self.model = model
        self.input_transcript = HEARD
        self.default = AudioReply(NOTED, duration_ms=400, chunk_ms=40)

    def choose(self, user_text: str | None) -> Reply:
        if user_text is None or RECALL not in user_text:
            return super().choose(user_text)
        held = self.model.connections[-1].conversation.values()
        said = [i.text for i in held if isinstance(i, MessageItem) and i.role == "user"]
        return AudioReply(f"You said: {said[0]}.", duration_ms=400, chunk_ms=40)


def main(port: int, redis_url: str, secret: str) -> None:
    model = ScriptedModel(model_id="scripted-realtime")
    model.script = Recall(model)
    agent = RealtimeAgent(id="demo", name="Demo", instructions="Be brief.")
    state = RedisState.from_url(redis_url, prefix="rolling:")
    app = create_app(agent, model, secret=secret, state=state, drain_timeout=10)
    uvicorn_server(app, ServeOptions(), host="127.0.0.1", port=port).run()


class Balancer:
    """Forwards each connection to the first ready backend (see the module docstring)."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.routed: list[int] = []  # the backend each connection went to
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Balancer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for link in list(self._links):
            link.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)

    async def _ready(self) -> int | None:
        async with httpx.AsyncClient(timeout=1.0) as http:
            for port in self.backends:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        return port
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        try:
            port = await self._ready()
            if port is None:
                return
            self.routed.append(port)
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", port)
            try:
                await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
            finally:
                upstream.close()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._links.discard(link)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until ``source`` ends, then end ``sink`` (a half close, as TCP proxies do)."""
    while data := await source.read(65536):
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        with contextlib.suppress(OSError):
            sink.write_eof()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
