"""The REST call a provider makes with its API key to get a short-lived credential (an
ephemeral token, a client secret, a signed URL), written once so every provider fails it the
same way: a clear :class:`~voicewire.protocol.AuthenticationError` that says who could not be
reached or who refused and why, and never quotes the key, even when the provider's answer does.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..protocol import AuthenticationError
from ..redaction import redact

__all__ = ["request_credential"]

_TIMEOUT_S = 15.0
_QUOTED_CHARS = 300
"""How much of a refusal's body the error quotes."""


async def request_credential(
    client: httpx.AsyncClient | None,
    method: str,
    url: str,
    *,
    provider: str,
    purpose: str,
    key: str,
    hint: str = "",
    **request: Any,
) -> httpx.Response:
    """Send ``method url`` (``request``: httpx's ``json=``, ``params=``, ``headers=``, ...) and
    return an answer below HTTP 400.

    ``client`` is the app's (left open) or ``None`` (a client for this call, closed after it).
    ``provider`` and ``purpose`` word the errors ("could not reach gemini to mint a token",
    "gemini refused to mint a token (HTTP 403): ..."); ``hint`` follows the status of a 4xx
    refusal. ``key`` is masked in what the error quotes, as is anything that looks secret.

    Raises:
        AuthenticationError: the provider could not be reached, or refused (HTTP >= 400).
    """
    own = client is None
    http = httpx.AsyncClient(timeout=_TIMEOUT_S) if client is None else client
    try:
        response = await http.request(method, url, **request)
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        raise AuthenticationError(
            _masked(f"could not reach {provider} to {purpose}: {detail}", key)
        ) from None
    finally:
        if own:
            await http.aclose()
    status = response.status_code
    if status >= 400:
        said = response.text[:_QUOTED_CHARS]
        advice = hint if status < 500 else ""
        raise AuthenticationError(
            _masked(f"{provider} refused to {purpose} (HTTP {status}){advice}: {said}", key)
        )
    return response


def _masked(text: str, key: str) -> str:
    return redact(text.replace(key, "***") if key else text)
