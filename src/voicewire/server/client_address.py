"""Which client a request comes from, for per-address rate limits.

The address is the ASGI scope's ``client``: the peer of the TCP connection, as the ASGI server saw
it. Behind a reverse proxy or load balancer that is the proxy, and every caller would share one
limit. Two ways out, both explicit:

* let the ASGI server rewrite ``client``: uvicorn does it for the proxies listed in
  ``--forwarded-allow-ips`` (its default trusts ``127.0.0.1``; ``FORWARDED_ALLOW_IPS`` in the
  environment sets it for ``voicewire serve``);
* or give ``create_app(trusted_proxies=[...])`` the proxies' addresses or networks: when the peer
  is one of them, ``X-Forwarded-For`` is read from the right (the entry the nearest proxy wrote)
  and the first address that is not a trusted proxy is the client.

``X-Forwarded-For`` is never read otherwise: any client can send one, so believing it from an
untrusted peer would let each request pick its own rate-limit bucket.

IPv6 clients are counted per /64 network (:func:`rate_bucket`): one host usually holds a whole
/64 and could otherwise take a fresh address for every request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from typing import Any

from voicewire.protocol import ConfigurationError

__all__ = ["TrustedProxies", "client_address", "rate_bucket"]

MAX_FORWARDED_CHARS = 4096
"""Longer ``X-Forwarded-For`` values are cut to their last 4 KiB (the entries that matter)."""

UNKNOWN = "unknown"
"""The address of a connection whose ASGI server reports no client (all such share a limit)."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed (addresses or CIDR networks)."""

    def __init__(self, proxies: Collection[str] = ()) -> None:
        networks: list[_Network] = []
        for proxy in proxies:
            try:
                networks.append(ipaddress.ip_network(proxy, strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"trusted_proxies: {proxy!r} is not an IP address or network"
                ) from None
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        parsed = _parse_ip(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client behind ``peer`` according to the ``X-Forwarded-For`` value, or ``peer``
        itself when it is not a trusted proxy or the header names nobody."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for[-MAX_FORWARDED_CHARS:].split(",")]
        current = peer
        for hop in reversed(hops):
            address = _strip_port(hop)
            if _parse_ip(address) is None:
                return current  # garbage past a trusted hop: stop at the last known address
            current = address
            if not self.trusts(address):
                return address
        return current


def client_address(scope: dict[str, Any] | Any, trusted: TrustedProxies | None = None) -> str:
    """The client address of an ASGI ``scope`` (HTTP or WebSocket); see the module docstring."""
    client = scope.get("client")
    peer = str(client[0]) if client else UNKNOWN
    if not trusted:
        return peer
    values = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    return trusted.client(peer, ",".join(values))


def rate_bucket(address: str) -> str:
    """What a per-address limit counts: the address, its /64 network for IPv6, the IPv4
    address for an IPv4-mapped IPv6 one, and any other string (a unix socket name) as it is."""
    parsed = _parse_ip(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else address


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _strip_port(hop: str) -> str:
    """``1.2.3.4:5678`` -> ``1.2.3.4``, ``[::1]:80`` -> ``::1``; anything else unchanged."""
    if hop.startswith("[") and "]" in hop:
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop
