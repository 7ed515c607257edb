"""The fake ElevenLabs server's HTTP side: the signed-URL endpoint and the WebSocket handshake.

Both share one port, as on ``api.elevenlabs.io``: websockets hands every request to
:meth:`Handshake.answer` first, which answers plain HTTP (``get-signed-url``, errors) itself and
lets only a valid conversation handshake through. Errors are JSON in ElevenLabs' shape,
``{"detail": {"status": ..., "message": ...}}``.

Signed URLs: ``GET /v1/convai/conversation/get-signed-url?agent_id=<id>`` with header
``xi-api-key`` answers ``{"signed_url": "ws://127.0.0.1:PORT/v1/convai/conversation?agent_id=<id>
&conversation_signature=<sig>"}``. A signature is opaque, random, bound to the agent, and valid
for 15 minutes *to start* a conversation (the platform's rule), measured on an injectable clock;
it may start several conversations within that window. A private agent accepts only a
conversation whose URL carries such a signature (an ``xi-api-key`` header on the socket is not
enough; the official SDKs never send one).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, quote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

__all__ = ["CONVERSATION_PATH", "SIGNED_URL_PATH", "SIGNED_URL_VALIDITY_S", "Handshake"]

CONVERSATION_PATH = "/v1/convai/conversation"
SIGNED_URL_PATH = "/v1/convai/conversation/get-signed-url"
SIGNED_URL_VALIDITY_S = 15 * 60
"""A signed URL starts conversations for 15 minutes after it was issued."""


@dataclass(frozen=True, slots=True)
class _Signature:
    agent_id: str
    expires_at: float


class Handshake:
    """Routes and authorises requests for one agent.

    Args:
        agent_id: the only agent this server knows.
        api_key: the ``xi-api-key`` that may fetch signed URLs.
        private: whether conversations need a signed URL.
        clock: seconds since the epoch (``time.time``), injectable to expire signatures.
        base_url: the server's ``ws://host:port``, called when a URL is minted.

    Attributes:
        signed_urls_issued: how many signed URLs were handed out.
        rejected: ``(status, status name)`` of every refused request, in order.
    """

    def __init__(
        self,
        agent_id: str,
        api_key: str,
        *,
        private: bool,
        clock: Callable[[], float],
        base_url: Callable[[], str],
    ) -> None:
        self.agent_id = agent_id
        self.api_key = api_key
        self.private = private
        self.clock = clock
        self.base_url = base_url
        self.signed_urls_issued = 0
        self.rejected: list[tuple[int, str]] = []
        self._signatures: dict[str, _Signature] = {}

    def mint(self) -> str:
        """A new signed conversation URL for the agent."""
        signature = secrets.token_urlsafe(24)
        self._signatures[signature] = _Signature(
            self.agent_id, self.clock() + SIGNED_URL_VALIDITY_S
        )
        self.signed_urls_issued += 1
        return (
            f"{self.base_url()}{CONVERSATION_PATH}?agent_id={quote(self.agent_id)}"
            f"&conversation_signature={quote(signature)}"
        )

    def answer(self, connection: ServerConnection, request: Request) -> Response | None:
        """The HTTP response for ``request``, or ``None`` to accept the WebSocket handshake."""
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        agent_id = (query.get("agent_id") or [""])[0]
        path = url.path.rstrip("/")
        if path == SIGNED_URL_PATH:
            return self._signed_url(connection, request, agent_id)
        if path != CONVERSATION_PATH:
            return self._reject(connection, HTTPStatus.NOT_FOUND, "not_found", "Not Found")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._reject(
                connection,
                HTTPStatus.UPGRADE_REQUIRED,
                "websocket_required",
                "The conversation endpoint only speaks WebSocket.",
            )
        if agent_id != self.agent_id:
            return self._reject(
                connection,
                HTTPStatus.NOT_FOUND,
                "agent_not_found",
                "The requested agent was not found.",
            )
        if self.private:
            signature = (query.get("conversation_signature") or [""])[0]
            problem = self._check(signature)
            if problem is not None:
                return self._reject(connection, HTTPStatus.FORBIDDEN, "invalid_signature", problem)
        return None

    def _signed_url(
        self, connection: ServerConnection, request: Request, agent_id: str
    ) -> Response:
        key = request.headers.get("xi-api-key")
        if key is None:
            return self._reject(
                connection,
                HTTPStatus.UNAUTHORIZED,
                "needs_authorization",
                "Neither authorization header nor xi-api-key received, please provide one.",
            )
        if not secrets.compare_digest(key.encode(), self.api_key.encode()):
            return self._reject(
                connection, HTTPStatus.UNAUTHORIZED, "invalid_api_key", "Invalid API key"
            )
        if agent_id != self.agent_id:
            return self._reject(
                connection,
                HTTPStatus.NOT_FOUND,
                "agent_not_found",
                "The requested agent was not found.",
            )
        return _json(connection, HTTPStatus.OK, {"signed_url": self.mint()})

    def _check(self, signature: str) -> str | None:
        """Why ``signature`` cannot start a conversation, or ``None`` when it can."""
        if not signature:
            return "This agent is private: connect with a signed URL."
        issued = self._signatures.get(signature)
        if issued is None or issued.agent_id != self.agent_id:
            return "The conversation signature is invalid."
        if self.clock() >= issued.expires_at:
            return "The conversation signature has expired."
        return None

    def _reject(
        self, connection: ServerConnection, status: HTTPStatus, name: str, message: str
    ) -> Response:
        self.rejected.append((int(status), name))
        return _json(connection, status, {"detail": {"status": name, "message": message}})


def _json(connection: ServerConnection, status: HTTPStatus, body: object) -> Response:
    response = connection.respond(status, json.dumps(body))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
