"""Fixtures: the fake AI/ML API service, and the `aimlapi` adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omnigate.providers.aimlapi.client import AimlapiProvider
from tests.fakes.aimlapi_upstream import FakeAimlapiUpstream

KEY = "aiml-fake-key"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAimlapiUpstream]:
    async with FakeAimlapiUpstream(api_key=KEY) as upstream:
        upstream.hang_seconds = 5.0
        yield upstream


@pytest.fixture
async def provider(fake: FakeAimlapiUpstream) -> AsyncIterator[AimlapiProvider]:
    backend = AimlapiProvider("svc", fake.base_url, api_key=KEY, connect_timeout_s=2.0, read_timeout_s=2.0)
    await backend.start()
    yield backend
    await backend.close()
