"""The fake server every end-to-end test talks to, in each dialect it speaks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voicewire.testing import FakeRealtimeServer


@pytest.fixture(params=["openai", "xai"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(dialect=request.param, api_key="sk-test") as fake:
        yield fake
