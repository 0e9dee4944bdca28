"""Fail-closed pricing: a model an upstream serves without a price is refused, not given away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import PRICED_MODEL, STARTING_CREDITS, Harness, running_harness

HELLO = [{"role": "user", "content": "hello"}]
# In the catalogue with no list price, and routed to the fake upstream by the catch-all route.
UNPRICED = "mistralai/mistral-nemo"


@pytest.fixture
async def strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    """The harness with the default `[billing] unpriced = "refuse"`."""
    async with running_harness(tmp_path, monkeypatch, unpriced="refuse") as running:
        yield running


async def test_an_unpriced_upstream_model_is_refused_naming_the_fix(strict: Harness) -> None:
    requests_before = len(strict.upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await strict.client().chat.completions.create(model=UNPRICED, messages=HELLO)
    body = refused.value.body
    assert isinstance(body, dict) and body["code"] == "model_unpriced"
    assert f'[[prices]] entry with model = "{UNPRICED}"' in refused.value.message
    assert len(strict.upstream.requests) == requests_before  # the upstream was never called


async def test_priced_and_local_models_are_served(strict: Harness) -> None:
    client = strict.client()
    await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)
    vectors = await client.embeddings.create(model="local/all-minilm-l6-v2", input="free of charge")
    assert vectors.model_extra["meta"]["usage"]["tokens_used"] == 0
    await strict.flush()
    assert strict.db.account(strict.account_id).balance < STARTING_CREDITS


async def test_the_free_setting_serves_unpriced_models_at_no_charge(harness: Harness) -> None:
    reply = await harness.client().chat.completions.create(model=UNPRICED, messages=HELLO)
    assert reply.model_extra["meta"]["usage"]["tokens_used"] == 0
