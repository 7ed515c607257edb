"""What ``POST /realtime/credential`` hands out once a request passed the app's checks (origin,
rate limit, body): a voicewire token, or the model's own ephemeral credential when the server
allows it.

Kept apart from :mod:`voicewire.server.app`, which decides whether a request is served at all.
Provider keys stay in the model object: a failure to mint is logged redacted and answered 502
without its details.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse, Response

from voicewire.protocol import ClientCredential, RealtimeModel, credential_to_json

from .refusals import json_error
from .security import redact
from .tokens import TokenAuthority

__all__ = ["mint_credential"]

log = logging.getLogger("voicewire.server")


async def mint_credential(
    body: dict[str, Any],
    tokens: TokenAuthority,
    model: RealtimeModel,
    *,
    allow_provider: bool,
) -> Response:
    """The answer to a credential request whose JSON body is ``body``: without ``provider``, a
    voicewire token from ``tokens`` (403 when it mints none); with it, ``model``'s ephemeral
    credential (403 unless ``allow_provider``, 400 for another provider or model, 502 when the
    provider fails)."""
    if body.get("provider") is None:
        if not tokens.can_issue:
            return json_error(
                403,
                "token_minting_disabled",
                "this server mints no tokens: get one from the service that does",
            )
        credential: ClientCredential = tokens.issue()
        log.debug("issued a voicewire token expiring at %s", credential.expires_at.isoformat())
    else:
        refused = _check_provider_request(body, model, allow_provider)
        if refused is not None:
            return refused
        try:
            credential = await model.authenticate()
        except Exception as exc:
            log.warning(
                "the model could not mint a provider credential: %s",
                redact(f"{type(exc).__name__}: {exc}"),
            )
            return json_error(
                502, "provider_credential_failed", "the provider did not issue a credential"
            )
    return JSONResponse(
        {"credential": credential_to_json(credential)}, headers={"Cache-Control": "no-store"}
    )


def _check_provider_request(
    body: dict[str, Any], model: RealtimeModel, allowed: bool
) -> Response | None:
    """Why a provider credential request is refused, or ``None``."""
    if not allowed:
        log.info("refused a provider credential request: not enabled")
        return json_error(
            403,
            "provider_credentials_disabled",
            "this server does not hand out provider credentials; omit 'provider' to get a "
            "voicewire token for /v1/realtime",
        )
    provider, model_id = body.get("provider"), body.get("modelId")
    if provider != model.provider:
        return json_error(400, "unknown_provider", f"this server's provider is {model.provider!r}")
    if model_id is not None and model_id != model.model_id:
        return json_error(400, "unknown_model", f"this server's model is {model.model_id!r}")
    return None
