"""The app's rate limits in one process: on by default, counted per client address as the ASGI
scope gives it, and X-Forwarded-For believed only from proxies the app was told to trust."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from voicewire import RealtimeAgent
from voicewire.protocol import ConfigurationError
from voicewire.server import create_app
from voicewire.server.state import MemoryState, RateLimit, RateLimits
from voicewire.testing import ScriptedModel

from ..conftest import serve
from ..test_tokens_cli import opens

ONE_CREDENTIAL = RateLimits(credentials_per_address=RateLimit(1, 60))


async def statuses(app: Any, *forwarded_for: str, client: str = "127.0.0.1") -> list[int]:
    """POST /realtime/credential once per X-Forwarded-For value, from ``client``."""
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return [
            (
                await http.post("/realtime/credential", json={}, headers={"X-Forwarded-For": ip})
            ).status_code
            for ip in forwarded_for
        ]


async def test_limits_are_on_by_default(agent: RealtimeAgent, model: ScriptedModel) -> None:
    default = RateLimits().credentials_per_address
    assert default is not None
    app = create_app(agent, model)
    answers = await statuses(app, *["198.51.100.1"] * (default.requests + 1))
    assert answers == [200] * default.requests + [429]
    # Another client address has its own count.
    assert await statuses(app, "198.51.100.1", client="203.0.113.5") == [200]


async def test_disabled_limits_never_answer_429(agent: RealtimeAgent, model: ScriptedModel) -> None:
    app = create_app(agent, model, rate_limits=RateLimits.disabled())
    assert set(await statuses(app, *["x"] * 150)) == {200}


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    untrusting = create_app(agent, model, rate_limits=ONE_CREDENTIAL)
    # Every request picks another X-Forwarded-For: still one client, the peer.
    assert await statuses(untrusting, "198.51.100.1", "198.51.100.2") == [200, 429]

    behind_proxy = create_app(
        agent, model, rate_limits=ONE_CREDENTIAL, trusted_proxies=["127.0.0.0/8"]
    )
    assert await statuses(behind_proxy, "198.51.100.1", "198.51.100.2", "198.51.100.1") == [
        200,
        200,
        429,
    ]
    # A peer that is not a trusted proxy is counted as itself, whatever it forwards.
    assert await statuses(behind_proxy, "198.51.100.7", "198.51.100.8", client="203.0.113.9") == [
        200,
        429,
    ]


async def test_ipv6_clients_share_a_limit_per_64_network(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model, rate_limits=ONE_CREDENTIAL)
    assert await statuses(app, "-", client="2001:db8:0:1::a") == [200]
    assert await statuses(app, "-", client="2001:db8:0:1::b") == [429]
    assert await statuses(app, "-", client="2001:db8:0:2::a") == [200]


def test_a_bad_trusted_proxy_is_refused_at_startup(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        create_app(agent, model, trusted_proxies=["*"])


def refusals(metrics_text: str) -> dict[str, float]:
    """``voicewire_errors_total{source="refusal"}`` by code (prometheus-client's parser)."""
    return {
        sample.labels["code"]: sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "voicewire_errors_total" and sample.labels.get("source") == "refusal"
    }


async def test_refusals_are_counted_in_the_metrics(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model, rate_limits=ONE_CREDENTIAL)
    assert await statuses(app, "-", "-", "-") == [200, 429, 429]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        scraped = (await http.get("/metrics")).text
    assert refusals(scraped) == {"rate_limit_exceeded": 2}


async def test_a_session_refused_for_its_subjects_rate_limit_keeps_its_single_use_token(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    secret = "rate-limit-tests-secret-0123456789abcdef"
    shared = MemoryState()  # both apps spend tokens in it, as two instances on one Redis
    one_each = RateLimits(sessions_per_subject=RateLimit(1, 60))
    strict = create_app(
        agent, model, secret=secret, state=shared, single_use=True, rate_limits=one_each
    )
    lenient = create_app(agent, model, secret=secret, state=shared, single_use=True)
    async with serve(strict) as first, serve(lenient) as second:
        tokens = [first.server.tokens.issue(subject="alice").token for _ in range(2)]
        assert await opens(first.port, tokens[0]) is None
        assert await opens(first.port, tokens[1]) == 429  # alice's one session a minute
        assert await opens(second.port, tokens[1]) is None  # the refused token was not spent
        assert await opens(second.port, tokens[0]) == 401  # while the one used was
