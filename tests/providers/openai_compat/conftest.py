"""Fixtures: a strict fake OpenAI upstream, and the OpenAI-compatible adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omnigate.providers.openai_compat.client import OpenAICompatProvider
from tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIUpstream]:
    upstream = FakeOpenAIUpstream(strict=True)
    await upstream.start()
    yield upstream
    await upstream.stop()
    # Every request the adapter sent and every answer the fake gave matched the SDK's types.
    assert upstream.fidelity_errors == []


@pytest.fixture
async def provider(fake: FakeOpenAIUpstream) -> AsyncIterator[OpenAICompatProvider]:
    backend = OpenAICompatProvider(
        "primary", fake.base_url, api_key="sk-fake", connect_timeout_s=2.0, read_timeout_s=1.0
    )
    await backend.start()
    yield backend
    await backend.close()
