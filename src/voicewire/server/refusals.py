"""The HTTP answers the app refuses with: JSON error bodies in OpenAI's shape, WebSocket
handshakes refused with an HTTP response, and request bodies read within a bound.

Kept apart from :mod:`voicewire.server.app` so the routes there read as the order of their checks.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from .security import handshake_refused
from .state import RateLimited

__all__ = [
    "MAX_BODY_BYTES",
    "deny",
    "deny_with",
    "error_body",
    "json_error",
    "read_json_body",
    "too_many",
]

MAX_BODY_BYTES = 16 * 1024


def error_body(code: str, message: str) -> dict[str, Any]:
    """An error body in OpenAI's shape (``{"error": {"type", "code", "message"}}``)."""
    return {"error": {"type": "invalid_request_error", "code": code, "message": message}}


def json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response that no cache keeps."""
    return JSONResponse(
        error_body(code, message),
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def too_many(refusal: RateLimited) -> JSONResponse:
    """429 with ``Retry-After`` and OpenAI's error code for it."""
    return json_error(
        429,
        "rate_limit_exceeded",
        refusal.message,
        {"Retry-After": str(refusal.retry_after)},
    )


async def deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake with an HTTP status and a JSON body (see :func:`deny_with`)."""
    await deny_with(websocket, json_error(status, code, message))


async def deny_with(websocket: WebSocket, response: Response) -> None:
    """Refuse the handshake with ``response`` when the server supports it (uvicorn does), else
    by closing before accept (an HTTP 403)."""
    handshake_refused.set(True)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008)


async def read_json_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object body (``{}`` when empty), bounded to :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return json_error(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > MAX_BODY_BYTES:
            return json_error(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not chunks.strip():
        return {}
    try:
        body = json.loads(chunks)
    except ValueError:
        return json_error(400, "invalid_json", "the body is not valid JSON")
    if not isinstance(body, dict):
        return json_error(400, "invalid_json", "the body must be a JSON object")
    return body
