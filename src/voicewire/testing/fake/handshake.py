"""The fake server's handshake answers: errors as OpenAI sends them, and what a request asks for."""

from __future__ import annotations

import json
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Response

__all__ = ["offered_subprotocols", "query_model", "reject"]


def reject(connection: ServerConnection, status: HTTPStatus, message: str, code: str) -> Response:
    error = {"message": message, "type": "invalid_request_error", "code": code, "param": None}
    body = json.dumps({"error": error})
    response = connection.respond(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def query_model(path: str) -> str | None:
    values = parse_qs(urlsplit(path).query).get("model")
    return values[0] if values and values[0] else None


def offered_subprotocols(headers: Headers) -> list[str]:
    return [
        name.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for name in value.split(",")
        if name.strip()
    ]
