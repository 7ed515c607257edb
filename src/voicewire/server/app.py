"""``create_app``: the ASGI app that serves an agent to browsers and OpenAI realtime clients.

::

    from voicewire.server import create_app
    app = create_app(agent, model=openai.realtime())
    # uvicorn module:app

Routes:

* ``POST /realtime/credential`` mints a short-lived voicewire token,
  ``{"credential": {"kind": "token", "token": ..., "expiresAt": ...}}``. With the body
  ``{"provider": "openai", "modelId": ...}`` it returns the model's own ephemeral credential
  instead (``model.authenticate()``), but only when ``allow_provider_credentials=True``;
  otherwise 403. This endpoint is open to anyone who can reach it (within the Origin policy):
  put your own authentication in front of it (Starlette middleware) in production.
* ``GET /metrics`` serves Prometheus metrics (sessions, frames, tool calls, errors, latencies:
  see :mod:`voicewire.server.metrics`); ``create_app(metrics=False)`` leaves it out. Like any
  Prometheus endpoint it is not authenticated: keep it off the public network.
* ``GET /`` is a demo page (start / mute / end, status, transcript, level meters, a text box) and
  ``/static/`` serves the browser client: ``voicewire.js`` (``RealtimeClient``,
  ``BrowserChannel``), ``react.js`` (``useRealtime``, ``useBrowserAudio``) and their worklet.
* ``WS /v1/realtime?model=...`` speaks the OpenAI Realtime GA protocol. Authenticate with
  ``Authorization: Bearer <token>`` or the subprotocols ``realtime`` +
  ``openai-insecure-api-key.<token>`` (``realtime`` is selected). Each connection hosts one
  :class:`RealtimeSession` of the agent against the app's model; tools run here. The ``model``
  query parameter is accepted for compatibility and ignored: the server picks the model.
  A client that does not read what it is sent is closed with 1008 and its session released
  (``max_outbox_bytes``, ``client_send_timeout``: see :mod:`voicewire.server.relay`).
  The upgrade response's ``X-Voicewire-Resume-Handle`` header carries the session's resume
  handle; connecting with it (``X-Voicewire-Resume`` or ``?resume=``) brings the conversation
  back, on any instance sharing the secret and state (see :mod:`voicewire.server.resume`). A
  browser, which cannot read that header, asks with ``?voicewire_resume=1`` and is sent the
  handle in a ``voicewire.resume_handle`` event after ``session.created``.

Refusals happen before the WebSocket is accepted, as HTTP responses with a JSON error body: 401
for a missing, malformed, forged, expired, wrong-audience or replayed token, 403 for an origin
outside the allow-list, 429 with ``Retry-After`` over a rate limit (the credential endpoint too),
503 when the state backend cannot say whether a single-use token was spent (see
:mod:`voicewire.server.state`). The reason is logged; the token never is. Provider keys never
leave the model object: no response body or log line written here carries them, and
``create_app`` puts a redacting filter on uvicorn's loggers, whose DEBUG handshake logs would
otherwise print the ``Authorization`` header (see
:func:`~voicewire.server.security.install_log_redaction`).

uvicorn's default ``websockets-sansio`` implementation logs "ASGI callable returned without
completing handshake." after every handshake refused with an HTTP response; ``create_app``
filters that line out for the handshakes it refused itself
(:class:`~voicewire.server.security.RefusedHandshakeFilter`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Collection
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from voicewire.agent import RealtimeAgent
from voicewire.protocol import (
    ConfigurationError,
    ConnectOptions,
    RealtimeModel,
    SessionConfig,
)
from voicewire.session import RealtimeSession, ReconnectPolicy

from .client_address import TrustedProxies, client_address, rate_bucket
from .credential import mint_credential
from .drain import close_when_quiet
from .health import Readiness, healthz
from .limits import CAPACITY_CLOSE_CODE, Activity, SessionLimits, enforce
from .log_context import current_session, install_session_logging
from .metrics import CONTENT_TYPE_LATEST, ServerMetrics
from .refusals import deny, deny_with, json_error, read_json_body, too_many
from .relay import CLIENT_SESSION_FIELDS, DEFAULT_MAX_OUTBOX_BYTES, Relay
from .resume import RESUME_HANDLE_HEADER, STATUS_OF, ResumeHandles, Resumer, ResumeRefused
from .security import (
    OriginPolicy,
    bearer_token,
    install_log_redaction,
    install_refused_handshake_filter,
    select_subprotocol,
    subprotocol_token,
)
from .state import (
    MemoryState,
    RateLimited,
    RateLimits,
    StateBackend,
    StateUnavailableError,
    Throttle,
)
from .tokens import ANONYMOUS_SUBJECT, RemoteJwks, TokenAuthority, TokenError, TokenKey

__all__ = ["VoicewireServer", "create_app"]

log = logging.getLogger("voicewire.server")

CREDENTIAL_PATH = "/realtime/credential"
REALTIME_PATH = "/v1/realtime"
STATIC_DIR = Path(__file__).parent / "static"
"""The browser client shipped in the package (served at ``/static/``)."""


def create_app(
    agent: RealtimeAgent,
    model: RealtimeModel | None = None,
    *,
    secret: str | bytes | None = None,
    token_ttl: float = 600,
    audience: str = "voicewire",
    single_use: bool = False,
    token_keys: Collection[TokenKey] = (),
    token_jwks: RemoteJwks | None = None,
    token_issuer: str | None = None,
    state: StateBackend | None = None,
    rate_limits: RateLimits | None = None,
    trusted_proxies: Collection[str] = (),
    allowed_origins: Collection[str] | None = None,
    allow_provider_credentials: bool = False,
    max_frame_bytes: int = 1 << 20,
    session_config: SessionConfig | None = None,
    client_session_fields: Collection[str] = CLIENT_SESSION_FIELDS,
    reconnect: ReconnectPolicy | None = None,
    max_outbox_bytes: int = DEFAULT_MAX_OUTBOX_BYTES,
    client_send_timeout: float = 5.0,
    client_close_timeout: float = 2.0,
    metrics: bool = True,
    max_sessions: int | None = None,
    idle_timeout: float | None = 300.0,
    max_session_duration: float | None = 4 * 3600.0,
    drain_timeout: float = 30.0,
    resume_ttl: float = 600.0,
) -> Starlette:
    """An ASGI app serving ``agent`` (see the module docstring for the routes).

    Args:
        agent: the agent each connection runs; its tools run in this process.
        model: the model sessions connect to (default: the agent's).
        secret: HMAC key for tokens; ``None`` generates one per process (tokens then do not
            survive a restart nor work across workers).
        token_ttl: token lifetime in seconds.
        audience: the audience tokens are minted for and must carry.
        single_use: each token opens one connection (reconnecting clients need a new token).
            A client refused because the server is draining or full keeps its token.
        token_keys: more keys tokens may be signed with (:class:`.tokens.TokenKey`, picked
            by ``kid``): your auth service's RS256/ES256 public keys, older HS256
            secrets during a rotation. With keys and no ``secret`` the server only verifies
            tokens, and its credential endpoint mints none (403 ``token_minting_disabled``).
        token_jwks: your auth service's JWKS URL (:class:`.tokens.RemoteJwks`: fetched,
            cached, fetched again for a new ``kid``).
        token_issuer: the ``iss`` tokens must carry (and are minted with).
        state: where single-use token ids and rate-limit counters live (default: a
            :class:`~voicewire.server.state.MemoryState` of this process). Give every worker and
            instance one :class:`~voicewire.server.state.RedisState` configuration to share
            them; the caller closes it. A passed state also makes ``/readyz`` ping it.
        rate_limits: credential requests and session opens allowed per client address and per
            token subject (default: :class:`~voicewire.server.state.RateLimits`;
            ``RateLimits.disabled()`` for none). Over a limit: 429 with ``Retry-After``.
        trusted_proxies: addresses or networks of reverse proxies whose ``X-Forwarded-For``
            names the client (see :mod:`voicewire.server.client_address`); none by default.
        allowed_origins: browser origins allowed besides the app's own; ``None`` means same
            origin only, ``["*"]`` any. Clients that send no ``Origin`` (non-browsers) pass.
        allow_provider_credentials: let the credential endpoint hand out the model's own
            ephemeral credential (the browser then talks to the provider directly, and the
            agent's tools do not run here).
        max_frame_bytes: larger client frames are answered with an ``error`` event. The ASGI
            server's own limit (uvicorn ``ws_max_size``, 16 MiB by default) caps memory first.
        session_config: session defaults under the agent's instructions, tools and voice.
        client_session_fields: settings a client's ``session.update`` may change.
        reconnect: how a session brings back a dropped link to the model (default:
            :class:`~voicewire.session.ReconnectPolicy`); the client stays connected meanwhile,
            and gets an ``error`` and a close (1011) only if the link cannot be brought back.
        max_outbox_bytes: the most a connection may hold of messages its client has not taken
            yet; a client that would take it over is too slow (see below).
        client_send_timeout: a client is too slow when messages wait for it and none has gone
            out for this many seconds. A too-slow client is closed with 1008 and a reason, and
            its session and model link are released (see :mod:`voicewire.server.relay`).
        client_close_timeout: how long a close frame may wait for room in the client's socket
            before the connection is left to the ASGI server.
        metrics: count sessions, frames, tool calls, errors and latencies, and serve them
            at ``GET /metrics`` (:mod:`voicewire.server.metrics`; several workers: there).
        max_sessions: sessions this process serves at once (``None``: no limit); one more is
            closed at once with 1013 (try again later) and a reason.
        idle_timeout: a session with no client frame, no model output and no response or tool
            under way for this many seconds is closed with 1000 and the reason ``idle: ...``
            (``None``: never).
        max_session_duration: a session open this long is closed with 1000 and the reason
            ``session time limit: ...`` (``None``: never). See :mod:`voicewire.server.limits`.
        drain_timeout: on a drain (SIGTERM under ``voicewire serve``), how long responses and
            tools under way may take to finish before every session is closed with 1012
            (see :mod:`voicewire.server.drain`).
        resume_ttl: how long a session's conversation is kept, after its last change, for a
            client to resume with its handle (see :mod:`voicewire.server.resume`; seconds above
            0 and at most 30 days, ``MAX_RESUME_TTL``, else a ``ConfigurationError``); handles are
            signed with a key derived from ``secret``, so instances sharing the secret and the
            ``state`` resume each other's sessions.
    """
    resolved = model if model is not None else agent.model
    if resolved is None:
        raise ConfigurationError(
            f"agent {agent.id!r} has no model: pass model=... to create_app or give the agent one"
        )
    if max_frame_bytes <= 0:
        raise ConfigurationError(f"max_frame_bytes must be positive, got {max_frame_bytes}")
    if max_outbox_bytes <= 0:
        raise ConfigurationError(f"max_outbox_bytes must be positive, got {max_outbox_bytes}")
    if not (client_send_timeout > 0 and client_close_timeout > 0):
        raise ConfigurationError(
            "client_send_timeout and client_close_timeout must be positive, got "
            f"{client_send_timeout} and {client_close_timeout}"
        )
    if not drain_timeout > 0:
        raise ConfigurationError(f"drain_timeout must be positive, got {drain_timeout}")
    limits = SessionLimits(max_sessions, idle_timeout, max_session_duration)
    install_log_redaction()
    install_refused_handshake_filter()
    install_session_logging()
    shared = state if state is not None else MemoryState()
    server = VoicewireServer(
        agent,
        resolved,
        tokens=TokenAuthority(
            secret,
            audience=audience,
            ttl=token_ttl,
            single_use=single_use,
            replay_guard=shared,
            keys=token_keys,
            jwks=token_jwks,
            issuer=token_issuer,
        ),
        origins=OriginPolicy(allowed_origins),
        allow_provider_credentials=allow_provider_credentials,
        max_frame_bytes=max_frame_bytes,
        session_config=session_config,
        client_session_fields=client_session_fields,
        reconnect=reconnect,
        max_outbox_bytes=max_outbox_bytes,
        client_send_timeout=client_send_timeout,
        client_close_timeout=client_close_timeout,
        limits=limits,
        drain_timeout=drain_timeout,
        throttle=Throttle(shared, rate_limits or RateLimits()),
        trusted_proxies=TrustedProxies(trusted_proxies),
        resumer=Resumer(ResumeHandles(secret), shared, resume_ttl),
    )
    if state is not None:
        server.readiness.add_check("state", state.ping)
    if metrics:
        server.metrics = ServerMetrics(tool.name for tool in agent.tools)
    app = Starlette(
        routes=[
            Route(CREDENTIAL_PATH, server.credential, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", server.readiness.readyz, methods=["GET", "HEAD"]),
            *([Route("/metrics", server.metrics_page, methods=["GET"])] if metrics else []),
            Route("/", _demo_page, methods=["GET", "HEAD"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(RealtimeRoute, server=server)],
    )
    app.state.voicewire = server
    return app


async def _demo_page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


class VoicewireServer:
    """The state behind the app's routes (``app.state.voicewire``).

    Attributes:
        tokens: the :class:`TokenAuthority` (mint tokens for tests or other routes with it).
        active_sessions: connections being served right now.
        sessions_served: connections accepted so far.
        relays: the :class:`Relay` of each connection being served (its outbox figures).
        readiness: what ``/readyz`` answers (:class:`~voicewire.server.health.Readiness`).
        limits: the :class:`~voicewire.server.limits.SessionLimits` sessions are held to.
        throttle: the rate limits and the state backend counting them
            (:class:`~voicewire.server.state.Throttle`; ``throttle.state`` is the backend).
        metrics: the app's :class:`~voicewire.server.metrics.ServerMetrics` (``None`` when
            ``create_app(metrics=False)``).
    """

    def __init__(
        self,
        agent: RealtimeAgent,
        model: RealtimeModel,
        *,
        tokens: TokenAuthority,
        origins: OriginPolicy,
        allow_provider_credentials: bool,
        max_frame_bytes: int,
        session_config: SessionConfig | None,
        client_session_fields: Collection[str],
        reconnect: ReconnectPolicy | None = None,
        max_outbox_bytes: int = DEFAULT_MAX_OUTBOX_BYTES,
        client_send_timeout: float = 5.0,
        client_close_timeout: float = 2.0,
        limits: SessionLimits | None = None,
        drain_timeout: float = 30.0,
        throttle: Throttle | None = None,
        trusted_proxies: TrustedProxies | None = None,
        resumer: Resumer | None = None,
    ) -> None:
        self.agent = agent
        self.model = model
        self.tokens = tokens
        self.origins = origins
        self.allow_provider_credentials = allow_provider_credentials
        self.max_frame_bytes = max_frame_bytes
        self.session_config = session_config
        self.client_session_fields = frozenset(client_session_fields)
        self.reconnect = reconnect
        self.max_outbox_bytes = max_outbox_bytes
        self.client_send_timeout = client_send_timeout
        self.client_close_timeout = client_close_timeout
        self.active_sessions = 0
        self.sessions_served = 0
        self.relays: set[Relay] = set()
        self.metrics: ServerMetrics | None = None
        self.limits = limits or SessionLimits()
        self.drain_timeout = drain_timeout
        self.throttle = throttle or Throttle(MemoryState(), RateLimits())
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.readiness = Readiness()
        self.resumer = resumer or Resumer(ResumeHandles(None), self.throttle.state, 600.0)
        self._activities: dict[Relay, Activity] = {}
        self._labels = itertools.count(1)

    async def drain(self) -> None:
        """Take no more sessions (``/readyz`` 503, new ones closed with 1013), let responses
        and tools under way finish (at most ``drain_timeout``), and close every session with
        1012 (service restart): see :mod:`voicewire.server.drain`."""
        self.readiness.draining = True
        log.info("draining %d session(s)", len(self._activities))
        await close_when_quiet(self._activities, self.drain_timeout)

    def _refusal(self) -> str | None:
        """Why a new session is refused (draining, or at capacity), or ``None``."""
        if self.readiness.draining:
            return "server draining: try another instance"
        if self.limits.full(self.active_sessions):
            return f"server at capacity ({self.limits.max_sessions} sessions): try again later"
        return None

    def _over_limit(self, limited: RateLimited) -> JSONResponse:
        """The 429 for a request over a rate limit, counted in the metrics."""
        if self.metrics is not None:
            self.metrics.error("rate_limit_exceeded", "refusal")
        return too_many(limited)

    def _address(self, scope: Scope) -> str:
        """The rate-limit bucket of the request's client (its address, or IPv6 /64)."""
        return rate_bucket(client_address(scope, self.trusted_proxies))

    # -- POST /realtime/credential ---------------------------------------------------------------

    async def credential(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if not self.origins.allows(
            origin, scheme=request.url.scheme, host=request.headers.get("host")
        ):
            log.warning(
                "refused a credential request: origin %r is not allowed", (origin or "")[:200]
            )
            return json_error(403, "origin_not_allowed", "this origin may not request credentials")
        limited = await self.throttle.credential(self._address(request.scope))
        if limited is not None:
            return self._over_limit(limited)
        body = await read_json_body(request)
        if isinstance(body, Response):
            return body
        return await mint_credential(
            body, self.tokens, self.model, allow_provider=self.allow_provider_credentials
        )

    async def metrics_page(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text exposition."""
        rendered = self.metrics.render() if self.metrics is not None else b""
        return Response(rendered, media_type=CONTENT_TYPE_LATEST)

    # -- WS /v1/realtime -------------------------------------------------------------------------

    async def realtime(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ``WS /v1/realtime`` connection (a raw ASGI endpoint: see
        :class:`RealtimeRoute`)."""
        websocket = WebSocket(scope, receive, send)
        peer = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
        origin = websocket.headers.get("origin")
        if not self.origins.allows(
            origin, scheme=websocket.url.scheme, host=websocket.headers.get("host")
        ):
            log.warning(
                "refused a realtime connection from %s: origin %r is not allowed",
                peer,
                (origin or "")[:200],
            )
            await deny(websocket, 403, "origin_not_allowed", "this origin may not connect")
            return
        limited = await self.throttle.session_address(self._address(scope))
        if limited is not None:
            await deny_with(websocket, self._over_limit(limited))
            return
        offered: list[str] = list(websocket.scope.get("subprotocols") or ())
        token = bearer_token(websocket.headers.getlist("authorization")) or subprotocol_token(
            offered
        )
        if token is None:
            log.warning("refused a realtime connection from %s: no credential", peer)
            await deny(
                websocket,
                401,
                "missing_credential",
                "send a token from POST /realtime/credential as 'Authorization: Bearer <token>' "
                "or the subprotocol 'openai-insecure-api-key.<token>'",
            )
            return
        # Draining, full or over the subject's rate limit is known before the token is spent,
        # so a client refused for it keeps its single-use token (inspected, not spent); a slot
        # taken while it is spent is the one case that costs it.
        refusal = self._refusal()
        limited = None
        try:
            claims = await self.tokens.inspect(token)
            if refusal is None and claims.sub != ANONYMOUS_SUBJECT:  # anonymous callers share one
                limited = await self.throttle.session_subject(claims.sub)
            if refusal is None and limited is None:
                await self.tokens.spend(claims)
        except TokenError as exc:
            log.warning(
                "refused a realtime connection from %s: %s (%s)", peer, exc.message, exc.code
            )
            await deny(websocket, 401, exc.code, exc.message)
            return
        except StateUnavailableError as exc:  # single use fails closed: a replay must not pass
            log.error("refused a realtime connection from %s: %s", peer, exc.message)
            if self.metrics is not None:
                self.metrics.error(exc.code, "refusal")
            await deny(
                websocket,
                503,
                exc.code,
                "the server cannot check single-use tokens right now; try again shortly",
            )
            return
        if limited is not None:
            await deny_with(websocket, self._over_limit(limited))
            return
        try:
            resumption = await self.resumer.begin(
                websocket.headers, scope.get("query_string", b""), claims.sub
            )
        except (ResumeRefused, StateUnavailableError) as exc:
            log.warning("refused to resume a session for %s: %s (%s)", peer, exc.message, exc.code)
            if self.metrics is not None:
                self.metrics.session_resumed("refused")
            status = STATUS_OF.get(exc.code, 503)
            await deny(websocket, status, exc.code, exc.message)
            return
        label = f"session {next(self._labels)} ({peer})"
        refusal = self._refusal()
        if refusal is not None:
            await websocket.accept(subprotocol=select_subprotocol(offered))
            log.warning("%s: %s; closing with %d", label, refusal, CAPACITY_CLOSE_CODE)
            if self.metrics is not None:
                why = "server_draining" if self.readiness.draining else "server_at_capacity"
                self.metrics.error(why, "refusal")
            await websocket.close(CAPACITY_CLOSE_CODE, refusal)
            return
        self.active_sessions += 1  # the slot is taken before the first await
        try:
            await websocket.accept(
                subprotocol=select_subprotocol(offered),
                headers=[(RESUME_HANDLE_HEADER.encode(), resumption.handle.encode())],
            )
        except BaseException:
            self.active_sessions -= 1
            raise
        log.info("%s: connected", label)
        session = RealtimeSession(
            self.agent,
            model=self.model,
            connect_options=ConnectOptions(session_config=self.session_config),
            auto_truncate=False,  # the client truncates at what it played; the relay passes it on
            stream_events=False,  # the relay takes events through session.on()
            reconnect=self.reconnect,
        )
        relay = Relay(
            receive,
            send,
            session,
            model_name=self.model.model_id,
            max_frame_bytes=self.max_frame_bytes,
            client_fields=self.client_session_fields,
            label=label,
            max_outbox_bytes=self.max_outbox_bytes,
            send_timeout=self.client_send_timeout,
            close_timeout=self.client_close_timeout,
        )
        activity = Activity(session, relay)
        self.resumer.attach(resumption, session, relay)
        if resumption.stored is not None:
            log.info("%s: resuming %d item(s)", label, len(session.history))
            if self.metrics is not None:
                self.metrics.session_resumed()
        self.sessions_served += 1
        self.relays.add(relay)
        self._activities[relay] = activity
        limiter = asyncio.create_task(enforce(activity, self.limits, relay.end))
        logging_as = current_session.set(label)  # for what the session and its tasks log
        unwatch = self._count(relay, session)
        failed = False
        try:
            await relay.run()
        except Exception:
            failed = True
            raise
        finally:
            limiter.cancel()
            activity.unsubscribe()
            del self._activities[relay]
            self.relays.discard(relay)
            self.active_sessions -= 1
            if self.metrics is not None:
                unwatch()
                self.metrics.session_closed(relay, failed=failed)
            log.info("%s: closed", label)
            current_session.reset(logging_as)

    def _count(self, relay: Relay, session: RealtimeSession) -> Callable[[], None]:
        """Start counting a session in the metrics; returns what stops watching it."""
        if self.metrics is None:
            return lambda: None
        relay.on_error = self.metrics.error
        return self.metrics.session_opened(relay, session)


class RealtimeRoute:
    """Routes ``WS /v1/realtime`` straight to :meth:`VoicewireServer.realtime`, everything else
    to the Starlette app behind it.

    It sits outside Starlette's exception middleware and router, which wrap ``send`` in closures
    that every message then passes through: the relay gets the ASGI server's own ``receive`` and
    ``send``. The endpoint handles its own errors (a bad frame gets an ``error`` event, a failed
    model a close); what still escapes reaches the ASGI server, as from a Starlette WebSocket
    route.
    """

    def __init__(self, app: ASGIApp, server: VoicewireServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _route_path(scope) == REALTIME_PATH:
            await self.server.realtime(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path within the app (``root_path`` removed when the app is mounted under one)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
