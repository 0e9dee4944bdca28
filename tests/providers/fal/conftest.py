"""Fixtures: a fake fal.ai upstream (its synchronous API and its queue) and the adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omnigate.providers.fal.client import FalProvider
from tests.providers.fal.fake_fal import KEY, FakeFal


@pytest.fixture
async def fake() -> AsyncIterator[FakeFal]:
    upstream = FakeFal()
    await upstream.start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def provider(fake: FakeFal) -> AsyncIterator[FalProvider]:
    backend = FalProvider(
        "fal",
        fake.base_url,
        api_key=KEY,
        queue_url=fake.queue_url,
        connect_timeout_s=2.0,
        read_timeout_s=2.0,
    )
    await backend.start()
    yield backend
    await backend.close()
