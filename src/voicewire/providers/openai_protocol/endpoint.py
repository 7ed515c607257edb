"""Where and how a client reaches a provider that speaks the OpenAI Realtime wire protocol.

The wire (event names, session fields, capabilities, audio formats) is a
:class:`~voicewire.openai_wire.dialect.Dialect`, sans-I/O and shared with the server. What only a
client dialling out needs (URLs, the API key's environment variable, the auth subprotocols, the
client-secret request, ping settings) is an :class:`Endpoint`, kept here beside the model and the
connection that use it, so the wire package depends on no provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...openai_wire.dialect import OPENAI, XAI, Dialect
from ..keepalive import VOICE_KEEPALIVE, Keepalive

__all__ = ["OPENAI_ENDPOINT", "XAI_ENDPOINT", "Endpoint", "endpoint_for"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The connection facts of one OpenAI-protocol provider."""

    default_base_url: str
    """WebSocket base, e.g. ``wss://api.openai.com/v1``; the model appends ``/realtime``."""
    rest_base_url: str
    """HTTPS base for REST calls such as client secrets."""
    api_key_env: str
    """Environment variable holding the API key."""
    token_subprotocol_prefix: str
    """Browser-style auth: the credential travels as the subprotocol ``<prefix><token>``."""
    extra_subprotocols: tuple[str, ...]
    """Sent along with the token subprotocol (OpenAI: ``realtime``)."""
    client_secret_session: bool = True
    """Whether ``POST /realtime/client_secrets`` takes a ``session`` (and ``expires_after.anchor``);
    xAI accepts only ``expires_after.seconds``."""
    keepalive: Keepalive = VOICE_KEEPALIVE
    """Ping settings for this provider's links (a provider slow to answer pings gets a longer
    ``ping_timeout`` here); a model's ``keepalive=`` overrides it."""


OPENAI_ENDPOINT = Endpoint(
    default_base_url="wss://api.openai.com/v1",
    rest_base_url="https://api.openai.com/v1",
    api_key_env="OPENAI_API_KEY",
    token_subprotocol_prefix="openai-insecure-api-key.",
    extra_subprotocols=("realtime",),
)

XAI_ENDPOINT = Endpoint(
    default_base_url="wss://api.x.ai/v1",
    rest_base_url="https://api.x.ai/v1",
    api_key_env="XAI_API_KEY",
    token_subprotocol_prefix="xai-client-secret.",
    extra_subprotocols=(),
    client_secret_session=False,
)

_SHIPPED: dict[str, Endpoint] = {OPENAI.name: OPENAI_ENDPOINT, XAI.name: XAI_ENDPOINT}


def endpoint_for(dialect: Dialect) -> Endpoint:
    """The endpoint of the shipped provider that speaks ``dialect`` (by its name); a dialect of
    your own needs an :class:`Endpoint` of your own."""
    try:
        return _SHIPPED[dialect.name]
    except KeyError:
        raise ValueError(
            f"no shipped endpoint for the {dialect.name!r} dialect; pass endpoint=Endpoint(...)"
        ) from None
