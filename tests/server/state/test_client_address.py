"""Which address a request is counted against: the peer, unless a trusted proxy says otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from voicewire.protocol import ConfigurationError
from voicewire.server.client_address import TrustedProxies, client_address, rate_bucket


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    return {
        "type": "http",
        "client": None if peer is None else (peer, 50000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]
        + [(b"host", b"example.com")],
    }


def test_the_peer_is_the_client_and_forwarded_for_is_ignored_by_default() -> None:
    assert client_address(scope("203.0.113.7", "198.51.100.1")) == "203.0.113.7"
    assert client_address(scope("203.0.113.7", "198.51.100.1"), TrustedProxies()) == "203.0.113.7"
    assert client_address(scope(None)) == "unknown"


def test_an_untrusted_peer_cannot_choose_its_address() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    assert client_address(scope("203.0.113.7", "198.51.100.1"), trusted) == "203.0.113.7"


def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() -> None:
    trusted = TrustedProxies(["10.0.0.0/8", "192.0.2.1"])
    # The client wrote a fake first entry; the proxies appended the real hops after it.
    seen = scope("10.1.2.3", "1.1.1.1, 198.51.100.9", "192.0.2.1")
    assert client_address(seen, trusted) == "198.51.100.9"
    assert client_address(scope("10.1.2.3", "198.51.100.9:4711"), trusted) == "198.51.100.9"
    assert client_address(scope("10.1.2.3", "[2001:db8::5]:443"), trusted) == "2001:db8::5"
    # Only trusted hops: the farthest one is the best answer there is.
    assert client_address(scope("10.1.2.3", "10.9.9.9"), trusted) == "10.9.9.9"
    # Garbage past a trusted hop stops the walk at the last address known.
    assert client_address(scope("10.1.2.3", "not-an-ip, 10.4.4.4"), trusted) == "10.4.4.4"
    assert client_address(scope("10.1.2.3"), trusted) == "10.1.2.3"


def test_a_huge_forwarded_for_is_read_from_its_end_only() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    header = "9.9.9.9, " * 5000 + "198.51.100.4"
    assert client_address(scope("10.0.0.1", header), trusted) == "198.51.100.4"


def test_ipv6_clients_are_counted_per_64_network() -> None:
    assert rate_bucket("2001:db8:1:2:aaaa::1") == rate_bucket("2001:db8:1:2:ffff::9")
    assert rate_bucket("2001:db8:1:2::1") != rate_bucket("2001:db8:1:3::1")
    assert rate_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert rate_bucket("::ffff:198.51.100.4") == "198.51.100.4"
    assert rate_bucket("198.51.100.4") == "198.51.100.4"
    assert rate_bucket("testclient") == "testclient"


def test_a_trusted_proxy_that_is_not_an_address_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"'proxy\.internal'"):
        TrustedProxies(["proxy.internal"])
