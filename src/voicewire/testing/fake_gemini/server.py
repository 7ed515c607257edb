"""A scripted fake Gemini Live server (BidiGenerateContent) over real WebSockets on 127.0.0.1.

Usage::

    async with FakeGeminiServer(api_key="g-test") as server:   # server.base_url: ws://127.0.0.1:P
        server.script.on("weather", ToolCallReply("get_weather", {"city": "Paris"},
                                                  then=AudioReply("It is sunny.")))
        model = gemini.realtime(api_key="g-test", base_url=server.base_url)
        ...
        assert server.violations == []

It is the oracle the Gemini provider is tested against, so its wire JSON is written from
Google's documentation and google-genai's types, never from voicewire's codec, and checked by
google-genai's own client in the tests. In the order a client meets it:

* **Endpoints** (one port, ``ws``; ``wss``/``https`` when given an ``ssl`` context):
  ``/ws/google.ai.generativelanguage.{v1beta,v1alpha}.GenerativeService.BidiGenerateContent``
  with the API key as header ``x-goog-api-key`` or ``?key=``, and
  ``/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained``
  with an ephemeral token it minted, as ``?access_token=`` or ``Authorization: Token <token>``;
  ``POST /v1alpha/auth_tokens`` mints tokens (see :mod:`.tokens`). Another path: HTTP 404.
* **Authentication** is refused as Gemini does, by accepting the WebSocket and closing it at
  once: a wrong key with **1007** "API key not valid. Please pass a valid API key.", no key
  with **1008** ("Method doesn't allow unregistered callers ..."), a bad or spent token with
  1008 / 1011 (see :class:`.tokens.TokenBook`).
* **Frames** may be text or binary JSON; the server sends binary frames, as Gemini does
  (``binary_frames=False`` sends text). Every client frame is recorded (:attr:`received`, and per
  link) and validated strictly (:mod:`voicewire.testing.gemini_validation`). Field names may be
  camelCase or snake_case, as Google's parser allows; names that are not camelCase are recorded
  in :attr:`casing` (``strict_casing=True`` makes them violations). An invalid frame is a
  violation and closes the socket with **1007**, as Gemini closes on a payload it cannot parse.
* **Setup** must come first (else 1007) and once; the answer is ``setupComplete``. With
  ``sessionResumption`` a ``sessionResumptionUpdate`` carries a new handle right after it and
  after every completed turn (``resumable: false`` while a turn runs). A new socket whose setup
  names a handle continues that session with its state (conversation and input audio) as it
  was when the handle was issued: what the client sent after that is gone, as on Gemini.
  Resuming while another socket of the session is still open is closed with **1011**, as
  Gemini does; an unknown handle or another model with 1007.
* Input and model turns: :mod:`.inputs` and :mod:`.turns`.

Replies follow the script, or the setup in force (:meth:`when_instructed`: the system
instruction a resumption's new setup brings). Controls for tests: :meth:`go_away` (``goAway``
then a real close 1011 when the time is up), :meth:`drop_connections` (no close frame: the
client sees 1006), :meth:`close_with`, and ``pong_delay`` (pongs held that many seconds, as
Gemini's slow pongs).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl as ssl_module
import time
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..gemini_validation import check_gemini_client
from ..script import Reply, Script
from ..serving import WebSocketFake
from .inputs import InputHandlers
from .state import Frame, GeminiLink, GeminiSession, get_field, parse_duration
from .tokens import TOKEN_PATH, Token, TokenBook, TokenRefusal, rest_error
from .transport import connection_class

__all__ = ["FakeGeminiServer"]

_logger = logging.getLogger("voicewire.testing.fake_gemini")

_PREFIX = "/ws/google.ai.generativelanguage."
KEY_PATHS = frozenset(
    f"{_PREFIX}{version}.GenerativeService.BidiGenerateContent" for version in ("v1beta", "v1alpha")
)
CONSTRAINED_PATH = f"{_PREFIX}v1alpha.GenerativeService.BidiGenerateContentConstrained"
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
DEADLINE = "Deadline expired before operation could complete."


class FakeGeminiServer(InputHandlers, WebSocketFake):
    """A scripted Gemini Live server on ``ws://127.0.0.1:<port>`` for end-to-end tests.

    Args:
        api_key: the key clients must present.
        host, port: where to listen; port 0 picks a free port.
        script: the replies; a fresh :class:`~voicewire.testing.Script` by default.
        ssl: a server TLS context: the server then speaks ``wss``/``https`` (google-genai's
            client insists on TLS).
        bundle: 3.1-style messages (a chunk's words with the chunk; one closing message).
        binary_frames: send JSON in binary frames, as Gemini does (else text frames).
        pong_delay: seconds to hold each pong.
        latency: seconds each frame the server sends takes to reach the client (a network;
            order kept), so that what a client writes meanwhile is in flight.
        strict_casing: make field names that are not camelCase violations.
        resume_spends_use: a resumption spends an ephemeral token's use (reported reality).
        tokens: share another server's tokens (e.g. minted over plain HTTP, used over TLS).
        vad_rms_threshold: PCM16 RMS at or above which a 10 ms input frame is speech.

    Attributes:
        script: what the model answers and what user audio "says".
        instruction_rules: replies chosen by the system instruction (:meth:`when_instructed`).
        tokens: the ephemeral tokens minted (:class:`.tokens.TokenBook`).
        received: every parsed client frame, in order, over all links.
        sent: every frame the server sent, in order, over all links.
        violations: what clients did wrong (invalid frames, frames out of place, ...).
        casing: field names clients sent that are not camelCase.
        own_problems: the fake's own frames that google-genai's types reject (a fake bug).
        undeclared_tool_calls: tools the script called that the setup did not declare.
        links: every WebSocket accepted, oldest first (see :class:`.state.GeminiLink`).
        sessions: every session opened, oldest first (see :class:`.state.GeminiSession`).
    """

    def __init__(
        self,
        api_key: str = "g-test",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        script: Script | None = None,
        ssl: ssl_module.SSLContext | None = None,
        bundle: bool = False,
        binary_frames: bool = True,
        pong_delay: float = 0.0,
        latency: float = 0.0,
        strict_casing: bool = False,
        resume_spends_use: bool = False,
        tokens: TokenBook | None = None,
        vad_rms_threshold: float = 0.02,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.host = host
        self.port = port
        self.script: Script = script if script is not None else Script()
        self.instruction_rules: list[tuple[str, Reply]] = []
        self.ssl = ssl
        self.bundle = bundle
        self.binary_frames = binary_frames
        self.pong_delay = pong_delay
        self.latency = latency
        self.strict_casing = strict_casing
        self.vad_rms_threshold = vad_rms_threshold
        self.tokens = tokens or TokenBook(resume_spends_use=resume_spends_use)
        self.received: list[Frame] = []
        self.sent: list[Frame] = []
        self.violations: list[str] = []
        self.casing: list[str] = []
        self.own_problems: list[str] = []
        self.undeclared_tool_calls: list[str] = []
        self.links: list[GeminiLink] = []
        self.sessions: list[GeminiSession] = []
        self._handles: dict[str, tuple[GeminiSession, tuple[int, int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._server: Server | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    _label = "fake Gemini server"

    def _listen(self) -> Awaitable[Server]:
        return self._serve(
            self._serve_link,
            ssl=self.ssl,
            process_request=self._process_request,
            create_connection=connection_class(self._rest, lambda: self.pong_delay),
            ping_interval=None,
        )

    async def _stop_work(self) -> None:
        """Cancel every link's deadline and turn."""
        for link in self.links:
            if link.deadline is not None:
                link.deadline.cancel()
            await self._cancel_link_turn(link)

    # --- what tests read ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT`` (``wss://`` with TLS): the WebSocket base."""
        return self._origin("wss" if self.ssl else "ws")

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS): the REST base, same port."""
        return self.base_url.replace("ws", "http", 1)

    def url(self, *, constrained: bool = False, version: str = "v1beta") -> str:
        """The full WebSocket URL of the key endpoint (or of the constrained one)."""
        if constrained:
            return self.base_url + CONSTRAINED_PATH
        return f"{self.base_url}{_PREFIX}{version}.GenerativeService.BidiGenerateContent"

    @property
    def session(self) -> GeminiSession:
        """The latest session opened."""
        if not self.sessions:
            raise RuntimeError("no session yet")
        return self.sessions[-1]

    @property
    def conversation(self) -> list[Frame]:
        """The latest session's conversation (a copy)."""
        turns: list[Frame] = json.loads(json.dumps(self.session.turns))
        return turns

    @property
    def input_audio(self) -> bytes:
        """Every input audio byte of the latest session, over all its links."""
        return bytes(self.session.input_audio)

    def live_links(self) -> list[GeminiLink]:
        """The links still open."""
        return [link for link in self.links if not link.closed]

    # --- controls ----------------------------------------------------------------------------

    def when_instructed(self, contains: str, reply: Reply) -> Self:
        """Answer every turn with ``reply`` while the session's system instruction (that of the
        setup in force, which a resumption may replace) contains ``contains`` (case-insensitive);
        checked before the script, in the order added."""
        self.instruction_rules.append((contains, reply))
        return self

    async def go_away(self, time_left: str = "2s") -> None:
        """Send ``goAway`` on every live link that has a session, then really close each one
        (1011, "Deadline expired ...") when ``time_left`` has passed."""
        seconds = parse_duration(time_left)
        loop = asyncio.get_running_loop()
        for link in self.live_links():
            if link.session is None:
                continue
            await self._send(link, {"goAway": {"timeLeft": time_left}})

            def expire(link: GeminiLink = link) -> None:
                if not link.closed:
                    self._spawn(self._close(link, 1011, DEADLINE))

            link.deadline = loop.call_later(seconds, expire)

    async def drop_connections(self, linger: float = 0.0) -> None:
        """Cut every live link without a close frame (the client sees 1006). With ``linger``,
        the server takes each for open that many seconds more, as a server that has not noticed
        the drop yet: resuming its session meanwhile is refused with 1011."""
        for link in self.live_links():
            link.closed = True
            link.lingers_until = time.monotonic() + linger
            link.ws.transport.abort()
        await self._notify()

    async def close_with(self, code: int, reason: str) -> None:
        """Close every live link with ``code`` and ``reason``."""
        for link in self.live_links():
            await self._close(link, code, reason)
        await self._notify()

    # --- handshake and REST ------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path in KEY_PATHS or path == CONSTRAINED_PATH:
            return None
        return connection.respond(HTTPStatus.NOT_FOUND, f"Not Found: {path}\n")

    def _rest(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[HTTPStatus, dict[str, Any]]:
        url = urlsplit(path)
        if url.path != TOKEN_PATH or method != "POST":
            return rest_error(HTTPStatus.NOT_FOUND, f"{method} {url.path} is not served here.")
        key = headers.get("x-goog-api-key") or _query(path, "key")
        if not key:
            return rest_error(HTTPStatus.FORBIDDEN, NO_KEY)
        if key != self.api_key:
            return rest_error(HTTPStatus.BAD_REQUEST, BAD_KEY)
        known = len(self.tokens.problems)
        status, answer = self.tokens.mint(body)
        self.violations.extend(self.tokens.problems[known:])
        return status, answer

    def _authenticate(self, link: GeminiLink) -> tuple[int, str] | None:
        request = link.ws.request
        headers = request.headers if request is not None else None
        path = urlsplit(link.path).path
        if path == CONSTRAINED_PATH:
            token = _query(link.path, "access_token")
            for value in headers.get_all("Authorization") if headers else []:
                scheme, _, rest = value.partition(" ")
                if scheme.lower() == "token":
                    token = rest.strip()
            if not token:
                return 1008, NO_KEY
            if token not in self.tokens.tokens:
                return 1008, "Invalid or unknown ephemeral token."
            link.token = token
            return None
        key = (headers.get("x-goog-api-key") if headers else None) or _query(link.path, "key")
        if not key:
            return 1008, NO_KEY
        return None if key == self.api_key else (1007, BAD_KEY)

    # --- links -------------------------------------------------------------------------------

    async def _serve_link(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        link = GeminiLink(ws=ws, index=len(self.links), path=path)
        self.links.append(link)
        await self._notify()
        try:
            refusal = self._authenticate(link)
            if refusal is not None:
                await self._close(link, *refusal)
                return
            async for message in ws:
                await self._on_frame(link, message)
                if link.closed:
                    break
        except ConnectionClosed:
            pass
        finally:
            link.closed = True
            if link.deadline is not None:
                link.deadline.cancel()
            if link.writer is not None:
                link.writer.cancel()
            await self._cancel_link_turn(link)
            await self._notify()

    async def _on_frame(self, link: GeminiLink, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            await self._refuse(link, "<frame>: not JSON")
            return
        if not isinstance(frame, dict):
            await self._refuse(link, "<frame>: not a JSON object")
            return
        self.received.append(frame)
        link.received.append(frame)
        await self._notify()
        if self.tokens.expired(link.token):
            await self._close(link, 1008, "The ephemeral token has expired.")
            return
        problems, casing = check_gemini_client(frame)
        link.casing.extend(casing)
        self.casing.extend(casing)
        if self.strict_casing:
            problems = problems + casing
        if problems:
            self.violations.extend(problems)
            await self._close(link, 1007, f"Invalid JSON payload received. {problems[0]}")
            return
        kind_key = next(iter(frame))
        kind = _camel(kind_key)
        body = frame[kind_key]
        if link.session is None and kind != "setup":
            await self._refuse(link, f"{kind}: the first frame must be 'setup'")
            return
        handlers = {
            "setup": self._on_setup,
            "realtimeInput": self._on_realtime_input,
            "clientContent": self._on_client_content,
            "toolResponse": self._on_tool_response,
            "contextUpdate": self._on_context_update,
        }
        await handlers[kind](link, body)
        await self._notify()

    async def _on_setup(self, link: GeminiLink, body: Frame) -> None:
        if link.session is not None:
            await self._refuse(link, "setup: sent twice on one socket")
            return
        handle = get_field(get_field(body, "sessionResumption"), "handle")
        token: Token | None = None
        if link.token is not None:
            admitted = self.tokens.admit(link.token, resuming=bool(handle))
            if isinstance(admitted, TokenRefusal):
                await self._close(link, admitted.code, admitted.reason)
                return
            token = admitted
        setup = {**body, **(token.locked_setup if token else {})}
        model = str(setup.get("model"))
        if handle:
            found = self._handles.get(str(handle))
            if found is None:
                await self._refuse(link, "setup.sessionResumption.handle: unknown handle")
                return
            session, mark = found
            if session.live_link is not None:
                if not session.live_link.closed:  # the client's own socket: its mistake
                    self.violations.append("setup: resumed while the session's socket is open")
                await self._close(link, 1011, "The service is currently unavailable.")
                return
            if model != session.model:
                await self._refuse(link, "setup.model: a session resumes only on its model")
                return
            session.restore(mark)
            link.resumed_from = str(handle)
        else:
            session = GeminiSession(id=self._new_id("session"), model=model, setup=setup)
            session.token = link.token
            self.sessions.append(session)
        session.setup = setup
        session.links.append(link)
        link.session = session
        await self._send(link, {"setupComplete": {}})
        await self._issue_handle(link)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _query(path: str, name: str) -> str | None:
    values = parse_qs(urlsplit(path).query).get(name)
    return values[0] if values and values[0] else None
