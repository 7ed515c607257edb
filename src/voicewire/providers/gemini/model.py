"""Gemini Live as a :class:`~voicewire.protocol.RealtimeModel`: where to dial, how to
authenticate, and what the model can take.

With an API key the socket goes to ``BidiGenerateContent`` with the key in the
``x-goog-api-key`` header (never in the URL). With an ephemeral token from :meth:`authenticate`
(a ``TokenCredential`` named ``auth_tokens/...``) it goes to the constrained v1alpha endpoint with
``?access_token=``; the redacting log filter masks that parameter.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from ...protocol import (
    AuthenticationError,
    ConnectOptions,
    CredentialExpiredError,
    RealtimeCapabilities,
    TokenCredential,
    UrlCredential,
    parse_expiry,
)
from ...protocol.capabilities import ANY_AUDIO
from ..credential_request import request_credential
from ..dial import dial, websocket_factory
from ..keepalive import Keepalive
from .client_codec import GeminiClientCodec
from .connection import GeminiConnection, ResumePolicy
from .server_decoder import GeminiServerDecoder
from .setup import build_setup, model_name
from .turns import TurnState

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "GEMINI_CAPABILITIES",
    "GEMINI_KEEPALIVE",
    "GeminiRealtimeModel",
    "realtime",
]

DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
DEFAULT_BASE_URL = "wss://generativelanguage.googleapis.com"
API_KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
KEY_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
TOKEN_PATH = (
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
)

GEMINI_KEEPALIVE = Keepalive(ping_interval=10.0, ping_timeout=40.0)
"""Gemini answers pings in 8-30 s: a voice-length pong timeout would end healthy calls."""

GEMINI_CAPABILITIES = RealtimeCapabilities(
    item_truncate=False,
    item_delete=False,
    response_create=True,
    response_cancel=False,
    input_commit=True,
    input_clear=False,
    activity_signals=True,
    manual_turns=True,
    server_vad=True,
    semantic_vad=False,
    default_turn_detection="server_vad",  # automatic activity detection, unless disabled
    input_transcription=True,
    live_instructions=True,
    live_tools=True,
    live_voice="any_time",
    live_turn_detection=True,
    live_audio_formats=True,
    live_modalities=True,  # responseModalities and outputAudioTranscription: a new setup
    live_transcription=True,  # inputAudioTranscription on or off: a new setup
    transcription_model=False,  # Gemini transcribes with its own model
    session_resumption=True,
    input_audio=ANY_AUDIO,
    output_audio=ANY_AUDIO,
)
"""What the Live API takes: no truncation, deletion, cancellation or clearing, no semantic turn
detection; audio of any format (resampled to 16 kHz in and from 24 kHz out); sessions resumed by
handle. Gemini fixes a socket's setup, but a resumption takes a new one (everything but the
model), so instructions, tools, voice, turn detection, output modalities and the user's
transcription (on or off) change mid-session by moving to a new socket with the new setup and the
latest handle (see :mod:`.connection`); audio formats change here, in the resampling. Gemini
transcribes with its own model: a transcription model name is ignored (nor does the setup carry a
transcription language or prompt, at connect or later)."""


class GeminiRealtimeModel:
    """Gemini Live (Google AI Developer API).

    ``api_key``: or ``$GEMINI_API_KEY`` / ``$GOOGLE_API_KEY``. ``base_url``: the WebSocket base
    (``wss://host``); REST calls (:meth:`authenticate`) go to the same host over HTTP(S).
    ``keepalive``: ping settings (default :data:`GEMINI_KEEPALIVE`).
    """

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        keepalive: Keepalive | None = None,
        resume_policy: ResumePolicy | None = None,
    ) -> None:
        self._model_id = model_id
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        ws = self.base_url.startswith("ws")  # REST on the same host: wss -> https, ws -> http
        self.rest_base_url = "http" + self.base_url[2:] if ws else self.base_url
        self._http_client = http_client
        self.keepalive = keepalive or GEMINI_KEEPALIVE
        self.resume_policy = resume_policy or ResumePolicy()

    @property
    def provider(self) -> str:
        return "gemini"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return GEMINI_CAPABILITIES

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._model_id!r}, base_url={self.base_url!r})"

    def _api_key_or_raise(self) -> str:
        key = self._api_key or next(filter(None, map(os.environ.get, API_KEY_ENVS)), None)
        if not key:
            raise AuthenticationError(
                "no Gemini API key: pass api_key=... or set GEMINI_API_KEY (or GOOGLE_API_KEY), "
                "or connect with a credential from authenticate()"
            )
        return key

    def _where(self, options: ConnectOptions) -> tuple[str, dict[str, str]]:
        credential = options.credential
        if credential is None:
            return self.base_url + KEY_PATH, {"x-goog-api-key": self._api_key_or_raise()}
        if isinstance(credential, UrlCredential):
            raise AuthenticationError(
                "gemini needs a token credential, got a url credential (signed URLs are for "
                "ElevenLabs)"
            )
        if credential.is_expired():
            raise CredentialExpiredError(
                f"the gemini token expired at {credential.expires_at.isoformat()}; mint a new "
                "one with authenticate()"
            )
        return f"{self.base_url}{TOKEN_PATH}?access_token={quote(credential.token, safe='')}", {}

    async def connect(self, options: ConnectOptions | None = None) -> GeminiConnection:
        """Open a Gemini Live session (resuming ``options.resume.handle`` when given); returns
        once Gemini has accepted its setup."""
        options = options or ConnectOptions()
        config = options.initial_session()
        model_id = self._model_id
        build_setup(model_id, config)  # a config Gemini cannot take fails before dialing
        url, headers = self._where(options)
        factory = options.websocket or websocket_factory(self.keepalive)
        abort = [options.abort]  # it aborts the connect, not a later resumption

        async def open_socket() -> Any:
            pending, abort[0] = abort[0], None
            return await dial(url, [], headers, provider="gemini", factory=factory, abort=pending)

        turns = TurnState()
        connection = GeminiConnection(
            open_socket,
            lambda handle, setup_config: build_setup(model_id, setup_config, handle=handle),
            GeminiClientCodec(model_id, config, turns),
            GeminiServerDecoder(config, turns),
            keepalive=self.keepalive,
            policy=self.resume_policy,
        )
        handle = options.resume.handle if options.resume is not None else None
        await connection.open(handle)
        return connection

    async def authenticate(
        self,
        *,
        uses: int = 0,
        expire_after: timedelta = timedelta(minutes=30),
        new_session_within: timedelta = timedelta(minutes=1),
    ) -> TokenCredential:
        """Mint an ephemeral token (``POST /v1alpha/auth_tokens``) locked to this model.

        ``uses``: sessions the token may open (0: any number until ``new_session_within`` has
        passed); 1 is too few, since resuming a session has been seen to count as a use.
        ``expire_after``: how long messages of its sessions are accepted.
        The credential expires when the token can no longer open a session."""
        if uses < 0 or uses == 1:
            raise ValueError("uses must be 0 (unlimited) or at least 2, so that resuming works")
        key = self._api_key_or_raise()
        now = datetime.now(UTC)
        body = {
            "uses": uses,
            "expireTime": _timestamp(now + expire_after),
            "newSessionExpireTime": _timestamp(now + new_session_within),
            "bidiGenerateContentSetup": {"model": model_name(self._model_id)},
            "fieldMask": "model",
        }
        url = f"{self.rest_base_url}/v1alpha/auth_tokens"
        response = await request_credential(
            self._http_client,
            "POST",
            url,
            provider="gemini",
            purpose="mint a token",
            key=key,
            json=body,
            headers={"x-goog-api-key": key},
        )
        return _token_from(response, now + new_session_within)


def _token_from(response: httpx.Response, fallback: datetime) -> TokenCredential:
    try:
        data = response.json()
    except ValueError:
        raise AuthenticationError("gemini answered the token request with non-JSON") from None
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise AuthenticationError("gemini's token answer has no 'name'")
    expires = data.get("newSessionExpireTime")
    return TokenCredential(name, parse_expiry(expires) if expires else fallback)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


realtime = GeminiRealtimeModel
"""``realtime(model_id, api_key=..., base_url=..., http_client=..., keepalive=...)``."""
