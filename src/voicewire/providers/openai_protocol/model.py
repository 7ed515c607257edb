"""A realtime model reached over the OpenAI Realtime wire protocol, parametrised by a dialect (the
wire) and an endpoint (where and how to dial it)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict
from urllib.parse import quote

import httpx

from ...openai_wire.client_codec import OpenAIProtocolCodec
from ...openai_wire.dialect import Dialect
from ...protocol import (
    AuthenticationError,
    ConnectOptions,
    CredentialExpiredError,
    HandshakeError,
    RealtimeCapabilities,
    SessionUpdate,
    TokenCredential,
    UrlCredential,
    WireSocket,
)
from ..credential_request import request_credential
from ..dial import dial, http_from_ws, websocket_factory
from ..keepalive import Keepalive
from .connection import OpenAIProtocolConnection
from .endpoint import Endpoint, endpoint_for

log = logging.getLogger("voicewire.connection")

DEFAULT_TOKEN_TTL_S = 600


class ModelOptions(TypedDict, total=False):
    """Keyword options every OpenAI-protocol provider factory takes."""

    api_key: str | None
    base_url: str | None
    rest_base_url: str | None
    http_client: httpx.AsyncClient | None
    keepalive: Keepalive | None


class OpenAIProtocolModel:
    """:class:`~voicewire.protocol.RealtimeModel` for OpenAI-protocol providers.

    ``base_url`` is the WebSocket base (``wss://host/v1``); REST calls go to the same host over
    HTTP(S) unless ``rest_base_url`` says otherwise, so one setting reaches a proxy, Azure or
    another voicewire server. ``keepalive`` says how soon a dead link is noticed (default: the
    endpoint's, within 10 s). ``endpoint`` defaults to the shipped one for the dialect's provider.
    """

    def __init__(
        self,
        dialect: Dialect,
        model_id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        rest_base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        keepalive: Keepalive | None = None,
        endpoint: Endpoint | None = None,
    ) -> None:
        self.dialect = dialect
        self.endpoint = endpoint = endpoint or endpoint_for(dialect)
        self.keepalive = keepalive or endpoint.keepalive
        self._model_id = model_id
        self._api_key = api_key
        self.base_url = (base_url or endpoint.default_base_url).rstrip("/")
        if rest_base_url is None:
            rest_base_url = endpoint.rest_base_url if base_url is None else http_from_ws(base_url)
        self.rest_base_url = rest_base_url.rstrip("/")
        self._http_client = http_client
        self.codec = OpenAIProtocolCodec(dialect)

    @property
    def provider(self) -> str:
        return self.dialect.name

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> RealtimeCapabilities:
        """The dialect's: what this provider's wire can express."""
        return self.dialect.capabilities

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._model_id!r}, base_url={self.base_url!r})"

    @property
    def url(self) -> str:
        return f"{self.base_url}/realtime?model={quote(self._model_id)}"

    def _api_key_or_raise(self) -> str:
        key = self._api_key or os.environ.get(self.endpoint.api_key_env)
        if not key:
            raise AuthenticationError(
                f"no {self.dialect.name} API key: pass api_key=... or set "
                f"{self.endpoint.api_key_env}, or connect with a credential from authenticate()"
            )
        return key

    async def connect(self, options: ConnectOptions | None = None) -> OpenAIProtocolConnection:
        options = options or ConnectOptions()
        subprotocols: list[str] = []
        headers: dict[str, str] = {}
        credential = options.credential
        if credential is not None:
            if isinstance(credential, UrlCredential):
                raise AuthenticationError(
                    f"{self.dialect.name} needs a token credential, got a url credential "
                    "(signed URLs are for ElevenLabs)"
                )
            if credential.is_expired():
                raise CredentialExpiredError(
                    f"the {self.dialect.name} credential expired at "
                    f"{credential.expires_at.isoformat()}; mint a new one with authenticate()"
                )
            subprotocols = [*self.endpoint.extra_subprotocols]
            subprotocols.append(self.endpoint.token_subprotocol_prefix + credential.token)
        else:
            headers["Authorization"] = f"Bearer {self._api_key_or_raise()}"
        socket = await self._dial(subprotocols, headers, options)
        connection = OpenAIProtocolConnection(
            socket,
            self.codec,
            provider=self.dialect.name,
            # The connection pings every socket itself: websockets' keepalive misses a link that
            # dies while audio flows (see keepalive.py), so the default factory turns it off.
            keepalive=self.keepalive,
        )
        connection.resume_handle = _resume_handle(socket)
        config = options.initial_session()
        if config is not None:
            connection.send(SessionUpdate(config))
        return connection

    async def _dial(
        self, subprotocols: list[str], headers: dict[str, str], options: ConnectOptions
    ) -> WireSocket:
        """Open the socket; with a voicewire server's resume handle, resume its session, or,
        when the server has no conversation for it (another state backend, expired), start a
        new one (the session then replays its own history)."""

        async def attempt(sent: dict[str, str]) -> WireSocket:
            return await dial(
                self.url,
                subprotocols,
                sent,
                provider=self.dialect.name,
                factory=options.websocket or websocket_factory(self.keepalive),
                abort=options.abort,
            )

        handle = options.resume.handle if options.resume is not None else None
        if not handle:
            return await attempt(headers)
        try:
            return await attempt({**headers, RESUME_REQUEST_HEADER: handle})
        except HandshakeError as exc:
            if exc.status not in (400, 403, 404) or "resume_" not in exc.message:
                raise
            log.info("the server did not resume the session (HTTP %d); starting anew", exc.status)
            return await attempt(headers)

    async def authenticate(self, *, ttl_seconds: int = DEFAULT_TOKEN_TTL_S) -> TokenCredential:
        """Mint an ephemeral client secret with the API key; its expiry is the provider's."""
        key = self._api_key_or_raise()
        body: dict[str, Any] = {"expires_after": {"seconds": ttl_seconds}}
        if self.endpoint.client_secret_session:
            body["expires_after"]["anchor"] = "created_at"
            body["session"] = {"type": "realtime", "model": self._model_id}
        url = f"{self.rest_base_url}/realtime/client_secrets"
        response = await request_credential(
            self._http_client,
            "POST",
            url,
            provider=self.dialect.name,
            purpose="mint a client secret",
            key=key,
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
        return _token_from_answer(response, self.dialect.name, ttl_seconds)


def _token_from_answer(response: httpx.Response, provider: str, ttl: int) -> TokenCredential:
    try:
        data = response.json()
    except ValueError:
        raise AuthenticationError(
            f"{provider} answered the client-secret request with non-JSON"
        ) from None
    # GA answers {"value", "expires_at", "session"}; older answers nest {"client_secret": {...}}.
    secret = data.get("client_secret") if isinstance(data.get("client_secret"), dict) else data
    value = secret.get("value") if isinstance(secret, dict) else None
    if not isinstance(value, str) or not value:
        raise AuthenticationError(f"{provider}'s client-secret answer has no 'value'")
    expires = secret.get("expires_at")
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        expires_at = datetime.fromtimestamp(expires, UTC)
    else:
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    return TokenCredential(value, expires_at)


RESUME_REQUEST_HEADER = "X-Voicewire-Resume"
"""The header a link resumes a voicewire server's session with (see
:mod:`voicewire.server.resume`)."""


def _resume_handle(socket: object) -> str | None:
    """The resume handle a voicewire server put in the upgrade response, if the socket shows
    its response (``websockets``' does) and the server sent one."""
    headers = getattr(getattr(socket, "response", None), "headers", None)
    handle = headers.get("X-Voicewire-Resume-Handle") if headers is not None else None
    return handle if isinstance(handle, str) and handle else None
