"""Fixtures: the fake Anthropic upstream, and the real gateway routing a Claude model to it."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import openai
import pytest

from omnigate.settings import load_settings
from tests.providers.anthropic.fake_anthropic import API_KEY, FakeAnthropicUpstream
from tests.server import funded_account, serve

MODEL = "claude-3-haiku-20240307"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropicUpstream]:
    upstream = FakeAnthropicUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()
    # Every test fails if the fake caught the adapter (or itself) off the protocol.
    assert upstream.fidelity_errors == []


@dataclass
class ClaudeGateway:
    base_url: str
    key: str
    upstream: FakeAnthropicUpstream
    clients: list[openai.AsyncOpenAI] = field(default_factory=list)

    def client(self) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self.key, max_retries=0)
        # Closed by the fixture: left to the garbage collector, they close after the loop did.
        self.clients.append(client)
        return client


@pytest.fixture
async def gateway(tmp_path: Path, fake: FakeAnthropicUpstream) -> AsyncIterator[ClaudeGateway]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"

            [routing]
            read_timeout_s = 5
            backoff_base_s = 0.01

            [providers.claude]
            kind = "anthropic"
            base_url = "{fake.base_url}"
            api_key = "{API_KEY}"

            [[routes]]
            model = "{MODEL}"
            provider = "claude"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, 1_000_000_000)

    async with serve(settings) as (_, root):
        harness = ClaudeGateway(base_url=f"{root}/v1", key=key, upstream=fake)
        yield harness
        for client in harness.clients:
            await client.close()
    db.close()
