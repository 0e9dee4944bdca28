"""Fixtures: a fake Gemini upstream, and the real gateway in front of it (the openai SDK as client)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import openai
import pytest

from omnigate.gateway import Gateway
from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.providers.gemini.fake_gemini import FakeGeminiUpstream
from tests.server import funded_account, serve

# Enough for the worst-case reservation of a Gemini 3 Pro request with no max_tokens.
STARTING_CREDITS = 100_000_000


@pytest.fixture
async def fake() -> AsyncIterator[FakeGeminiUpstream]:
    upstream = FakeGeminiUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()
    # A payload that broke the SDK types (or the API's rules) fails the test that caused it.
    assert upstream.fidelity_errors == []


@dataclass
class GeminiHarness:
    base_url: str
    key: str
    account_id: int
    db: Database
    gateway: Gateway
    upstream: FakeGeminiUpstream
    clients: list[openai.AsyncOpenAI] = field(default_factory=list)

    def client(self) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self.key, max_retries=0)
        # Closed by the fixture while its loop still runs (else httpx closes them after it ended).
        self.clients.append(client)
        return client


def write_config(path: Path, upstream: FakeGeminiUpstream, data_dir: Path) -> None:
    # Two providers on the same fake so that retries can be seen: the second route keeps the
    # catalogue's `google/` prefix as its upstream model, which the adapter must strip.
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{data_dir}"

            [routing]
            max_attempts = 2
            read_timeout_s = 2.0

            [billing]
            flush_interval_s = 0.05
            poll_interval_s = 0.1

            [engines]
            builtin = false

            [providers.google]
            kind = "gemini"
            base_url = "{upstream.base_url}"
            api_key = "g-fake"

            [providers.google_backup]
            kind = "gemini"
            base_url = "{upstream.base_url}/v1beta"
            api_key = "g-fake"

            [[routes]]
            model = "google/gemini-2.5-flash"
            provider = "google"
            upstream_model = "gemini-2.5-flash"

            [[routes]]
            model = "google/gemini-2.5-flash"
            provider = "google_backup"

            # No list price: priced here, since an unpriced upstream model is refused.
            [[prices]]
            model = "google/gemini-2.5-flash-lite-preview"
            input_per_million = 0.1
            output_per_million = 0.4

            [[routes]]
            model = "google/gemini-2.5-flash-lite-preview"
            provider = "google"
            upstream_model = "gemini-2.5-flash-lite-preview"

            [[routes]]
            model = "google/gemini-3-pro-preview"
            provider = "google"
            upstream_model = "gemini-3-pro-preview"
            """
        )
    )


@pytest.fixture
async def gemini_gateway(tmp_path: Path, fake: FakeGeminiUpstream) -> AsyncIterator[GeminiHarness]:
    config = tmp_path / "omnigate.toml"
    write_config(config, fake, tmp_path / "data")
    settings = load_settings(config)
    db, account, key = funded_account(settings.database_url, STARTING_CREDITS)

    async with serve(settings) as (gateway, root):
        harness = GeminiHarness(
            base_url=f"{root}/v1",
            key=key,
            account_id=account.id,
            db=db,
            gateway=gateway,
            upstream=fake,
        )
        yield harness
        for client in harness.clients:
            await client.close()
    db.close()
