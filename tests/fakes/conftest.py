"""Fixtures of the fake upstream's own tests: a strict fake, and the official SDK pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest_asyncio

from .openai_upstream import FakeOpenAIUpstream


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAIUpstream]:
    upstream = FakeOpenAIUpstream(strict=True)
    await upstream.start()
    try:
        yield upstream
    finally:
        await upstream.stop()
    # Every payload the fake produced passed the SDK-type check.
    assert upstream.fidelity_errors == []


@pytest_asyncio.fixture
async def client(fake: FakeOpenAIUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    # max_retries=0: each error test must see exactly the one failure it queued.
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-fake", max_retries=0, timeout=5) as sdk:
        yield sdk
