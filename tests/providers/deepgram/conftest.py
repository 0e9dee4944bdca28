"""Fixtures: a fake Deepgram, and the adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omnigate.providers.deepgram.client import DeepgramProvider
from tests.providers.deepgram.fake_deepgram import FakeDeepgram


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepgram]:
    upstream = FakeDeepgram()
    await upstream.start()
    yield upstream
    await upstream.stop()
    # A drifted request or payload is answered with an error most tests notice; this catches the rest.
    assert upstream.fidelity_errors == []


@pytest.fixture
async def provider(fake: FakeDeepgram) -> AsyncIterator[DeepgramProvider]:
    backend = DeepgramProvider(
        "dg", fake.base_url, api_key=fake.api_key, connect_timeout_s=2.0, read_timeout_s=1.0
    )
    await backend.start()
    yield backend
    await backend.close()
