"""An ElevenLabs agent as a :class:`~voicewire.protocol.RealtimeModel`: dialing, signed URLs,
the opening exchange, and honest capabilities.

Reaching the agent:

* a public agent: ``{base_url}/v1/convai/conversation?agent_id=<id>``, no key;
* a private agent, with an API key (``api_key=`` or ``$ELEVENLABS_API_KEY``): :meth:`connect`
  first fetches a signed URL (``GET /v1/convai/conversation/get-signed-url?agent_id=<id>``,
  header ``xi-api-key``) and dials it; the key never travels on the socket;
* a :class:`~voicewire.protocol.UrlCredential` from :meth:`authenticate` (a browser or another
  process got it from a server holding the key): its URL is dialed verbatim. ElevenLabs gives no
  expiry; a signed URL must *start* a conversation within 15 minutes, so ``expires_at`` is
  fetch time + 15 minutes, and an expired one is refused before dialing.

Opening: the first frame is ``conversation_initiation_client_data`` (see :mod:`.initiation`);
:meth:`connect` then waits for the server's ``conversation_initiation_metadata`` before it hands
out the connection, so the agent's audio formats are known before any audio is converted, and a
conversation the server refuses (an override the agent does not allow closes the socket at once)
fails ``connect()`` with the server's words and the overrides that were asked for, instead of
handing out a connection that is already dead.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from ...protocol import (
    AuthenticationError,
    ConfigurationError,
    ConnectAbortedError,
    ConnectOptions,
    CredentialExpiredError,
    HandshakeError,
    ProtocolError,
    RealtimeCapabilities,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    TokenCredential,
    UrlCredential,
    WireSocket,
)
from ..codec_connection import CodecConnection, Reply
from ..credential_request import request_credential
from ..dial import OPEN_TIMEOUT_S, dial, http_from_ws, websocket_factory
from ..keepalive import VOICE_KEEPALIVE, Keepalive
from .codec import ElevenLabsCodec

__all__ = [
    "API_KEY_ENV",
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "SIGNED_URL_TTL",
    "ElevenLabsRealtimeModel",
]

PROVIDER: Final = "elevenlabs"
DEFAULT_BASE_URL: Final = "wss://api.elevenlabs.io"
"""The WebSocket base; residency hosts (``wss://api.eu.residency.elevenlabs.io``, ...) work too."""
API_KEY_ENV: Final = "ELEVENLABS_API_KEY"
SIGNED_URL_TTL: Final = timedelta(minutes=15)
"""How long a signed URL may be used to start a conversation (ElevenLabs' documentation)."""
GREETING_FRAMES: Final = 64
"""Frames read while waiting for the server's metadata before giving up on it (what they
decode to is kept for the connection, so this bounds it)."""
GREETING_TIMEOUT_S = OPEN_TIMEOUT_S
"""How long :meth:`ElevenLabsRealtimeModel.connect` waits for the server's metadata."""

CAPABILITIES: Final = RealtimeCapabilities(
    item_truncate=False,  # the server cuts its own record (agent_response_correction)
    item_delete=False,
    response_create=False,  # the agent answers each turn by itself
    response_cancel=False,  # only the user's voice interrupts it
    input_commit=False,
    input_clear=False,
    activity_signals=False,
    manual_turns=False,
    server_vad=True,
    # The agent's turn model decides when the user is done by what was said, not only by
    # silence (its "turn eagerness" is an agent setting); either mode gets that model, since
    # no session can choose. So semantic turn detection is what the agent does, honestly.
    semantic_vad=True,
    default_turn_detection="semantic_vad",
    input_transcription=True,  # user_transcript, when the agent sends it (the default)
    live_instructions=False,
    live_tools=False,
    live_voice="never",
    live_turn_detection=False,
    live_audio_formats=False,
    live_modalities=False,  # text_only is set by the first frame only
    live_transcription=False,  # the agent's recogniser; its language by the first frame only
    transcription_model=False,
    session_resumption=False,
)
"""What an ElevenLabs agent can take: no truncation, no response control, no input buffer, no
mid-session change; any audio format (converted to and from the agent's)."""


class ElevenLabsRealtimeModel:
    """:class:`~voicewire.protocol.RealtimeModel` for one ElevenLabs agent (``model_id`` is its
    agent id)."""

    provider: Final = PROVIDER

    def __init__(
        self,
        agent_id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        keepalive: Keepalive | None = None,
    ) -> None:
        """``base_url``: the WebSocket base (default :data:`DEFAULT_BASE_URL`); REST calls go to
        the same host over HTTP(S). ``keepalive``: how soon a dead link is noticed."""
        if not agent_id:
            raise ConfigurationError("elevenlabs.realtime() needs the agent's id")
        self._agent_id = agent_id
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.rest_base_url = http_from_ws(self.base_url)
        self._http_client = http_client
        self.keepalive = keepalive or VOICE_KEEPALIVE

    @property
    def model_id(self) -> str:
        return self._agent_id

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return CAPABILITIES

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._agent_id!r}, base_url={self.base_url!r})"

    @property
    def public_url(self) -> str:
        """The socket URL of a public agent."""
        return f"{self.base_url}/v1/convai/conversation?agent_id={quote(self._agent_id)}"

    def _api_key_or_none(self) -> str | None:
        return self._api_key or os.environ.get(API_KEY_ENV) or None

    async def authenticate(self) -> UrlCredential:
        """A signed URL for one conversation with this (private) agent, fetched with the API
        key; it must start a conversation within 15 minutes."""
        key = self._api_key_or_none()
        if key is None:
            raise AuthenticationError(
                f"no elevenlabs API key: pass api_key=... or set {API_KEY_ENV} to sign URLs "
                "(a public agent needs none)"
            )
        url = f"{self.rest_base_url}/v1/convai/conversation/get-signed-url"
        fetched_at = datetime.now(UTC)
        response = await request_credential(
            self._http_client,
            "GET",
            url,
            provider="elevenlabs",
            purpose=f"sign a URL for agent {self._agent_id!r}",
            key=key,
            hint=" (check the API key and the agent id)",
            params={"agent_id": self._agent_id},
            headers={"xi-api-key": key},
        )
        try:
            signed = response.json().get("signed_url")
        except (ValueError, AttributeError):
            signed = None
        if not isinstance(signed, str) or not signed.startswith(("ws://", "wss://")):
            raise AuthenticationError("elevenlabs' get-signed-url answer has no 'signed_url'")
        return UrlCredential(signed, fetched_at + SIGNED_URL_TTL)

    async def connect(self, options: ConnectOptions | None = None) -> CodecConnection:
        """Open a conversation: dial, send the initiation, wait for the server's metadata."""
        options = options or ConnectOptions()
        config = options.initial_session()
        if config is None and options.provider_options:  # dynamic variables without a config
            config = SessionConfig(provider_options=options.provider_options)
        codec = ElevenLabsCodec(config)  # config errors before dialing
        url = await self._url_for(options)
        socket = await dial(
            url,
            [],
            {},
            provider=PROVIDER,
            factory=options.websocket or websocket_factory(self.keepalive),
            abort=options.abort,
        )
        try:
            first = await _greet(socket, codec, options.abort)
        except BaseException:
            await _close_quietly(socket)
            raise
        return CodecConnection(
            socket, codec, provider=PROVIDER, keepalive=self.keepalive, first_events=first
        )

    async def _url_for(self, options: ConnectOptions) -> str:
        credential = options.credential
        if isinstance(credential, TokenCredential):
            raise AuthenticationError(
                "elevenlabs needs a url credential (a signed URL from authenticate()), got a "
                "token credential"
            )
        if credential is None:
            if self._api_key_or_none() is None:
                return self.public_url
            credential = await self.authenticate()
        if credential.is_expired():
            raise CredentialExpiredError(
                "the elevenlabs signed URL expired at "
                f"{credential.expires_at.isoformat()}; fetch a new one with authenticate()"
            )
        return _checked(credential.url)


def _checked(url: str) -> str:
    """``url`` if it can be dialed: a malformed signed URL is refused here, in words that never
    quote it (the socket library's own errors carry the whole URL, signature and all)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError as exc:
        raise ConfigurationError(f"the elevenlabs signed URL is malformed ({exc})") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigurationError(
            "the elevenlabs signed URL must be a ws:// or wss:// URL with a host (got a "
            f"{parts.scheme + '://' if parts.scheme else 'scheme-less'} URL)"
        )
    return url


async def _greet(
    socket: WireSocket, codec: ElevenLabsCodec, abort: asyncio.Event | None
) -> Sequence[ServerEvent]:
    """Send the initiation and read until the server's metadata: the events read so far (pongs
    for its pings go out at once)."""
    await socket.send(json.dumps(codec.initiation, separators=(",", ":")))
    try:
        async with asyncio.timeout(GREETING_TIMEOUT_S):
            return await _read_greeting(socket, codec, abort)
    except TimeoutError:
        raise HandshakeError(
            "elevenlabs did not start the conversation: no conversation_initiation_metadata "
            f"within {GREETING_TIMEOUT_S:g} s"
        ) from None


async def _read_greeting(
    socket: WireSocket, codec: ElevenLabsCodec, abort: asyncio.Event | None
) -> Sequence[ServerEvent]:
    """The frames up to the metadata, decoded; replies sent at once."""
    events: list[ServerEvent] = []
    for _ in range(GREETING_FRAMES):
        raw = await _recv(socket, codec, abort)
        if isinstance(raw, bytes):
            continue
        try:
            decoded = codec.decode_server_text(raw)
        except ProtocolError as exc:
            raise HandshakeError(f"elevenlabs opened the conversation with {exc}") from None
        for event in decoded:
            if isinstance(event, Reply):
                await socket.send(json.dumps(event.message, separators=(",", ":")))
            else:
                events.append(event)
        if any(isinstance(e, SessionCreated) for e in events):
            return events
    raise HandshakeError(
        f"elevenlabs sent {GREETING_FRAMES} frames without conversation_initiation_metadata"
    )


async def _recv(
    socket: WireSocket, codec: ElevenLabsCodec, abort: asyncio.Event | None
) -> str | bytes:
    receiving = asyncio.ensure_future(socket.recv())
    aborted = asyncio.ensure_future(abort.wait()) if abort is not None else None
    waits: set[asyncio.Future[Any]] = {receiving} if aborted is None else {receiving, aborted}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if aborted is not None:
            aborted.cancel()
    if not receiving.done():
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)
        raise ConnectAbortedError("connect to elevenlabs was aborted")
    try:
        return receiving.result()
    except Exception as exc:
        rcvd = getattr(exc, "rcvd", None)
        code, reason = getattr(rcvd, "code", None), getattr(rcvd, "reason", "") or ""
        described = codec.describe_close(code, reason) or f"the connection was lost: {exc}"
        said = described.message if isinstance(described, SessionError) else described
        error = ConfigurationError if code == 1008 else HandshakeError
        raise error(f"elevenlabs did not start the conversation: {said}") from None


async def _close_quietly(socket: WireSocket) -> None:
    try:
        await asyncio.wait_for(socket.close(), 2.0)
    except Exception:
        abort = getattr(getattr(socket, "transport", None), "abort", None)
        if callable(abort):
            abort()
