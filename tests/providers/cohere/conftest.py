"""Fixtures: a fake Cohere upstream, the adapter pointed at it, and the real gateway in front."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from omnigate.catalog.loader import Catalog, Model
from omnigate.gateway import Gateway
from omnigate.providers.cohere.client import CohereProvider
from omnigate.settings import load_settings
from tests.providers.cohere.fake_upstream import FakeCohereUpstream
from tests.server import funded_account, serve

UPSTREAM_MODEL = "command-a-03-2025"
# The catalogue's rules for cohere/command-a list no `tools`, `tool_choice`, tool-role messages
# or image parts, so the gateway strips or refuses them before any adapter sees the body. Tool
# round trips are tested through a rule-less model routed to the same provider.
TOOLS_MODEL = "test/cohere-tools"


@dataclass
class CohereHarness:
    base_url: str
    key: str
    gateway: Gateway
    upstream: FakeCohereUpstream

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self.key, max_retries=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeCohereUpstream]:
    upstream = FakeCohereUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()
    # A drifted payload answers with an error most tests notice; this catches the rest.
    assert upstream.fidelity_errors == []


@pytest.fixture
async def provider(fake: FakeCohereUpstream) -> AsyncIterator[CohereProvider]:
    backend = CohereProvider(
        "co", fake.base_url, api_key="co-fake", connect_timeout_s=2.0, read_timeout_s=1.0
    )
    await backend.start()
    yield backend
    await backend.close()


def _write_config(path: Path, upstream: FakeCohereUpstream, data_dir: Path) -> None:
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{data_dir}"

            [routing]
            max_attempts = 2
            read_timeout_s = 1.5

            [billing]
            flush_interval_s = 0.05
            poll_interval_s = 0.1

            # No list price: priced here, since an unpriced upstream model is refused.
            [[prices]]
            model = "cohere/command-a"
            input_per_million = 2.5
            output_per_million = 10.0

            [[prices]]
            model = "{TOOLS_MODEL}"
            input_per_million = 2.5
            output_per_million = 10.0

            [providers.co]
            kind = "cohere"
            base_url = "{upstream.base_url}"
            api_key = "co-fake"

            [[routes]]
            model = "cohere/command-a"
            provider = "co"
            upstream_model = "{UPSTREAM_MODEL}"

            [[routes]]
            model = "{TOOLS_MODEL}"
            provider = "co"
            upstream_model = "{UPSTREAM_MODEL}"
            """
        )
    )


@pytest.fixture
async def harness(fake: FakeCohereUpstream, tmp_path: Path) -> AsyncIterator[CohereHarness]:
    config = tmp_path / "omnigate.toml"
    _write_config(config, fake, tmp_path / "data")
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, 1_000_000)

    catalog = Catalog.load()
    catalog.add(
        Model(id=TOOLS_MODEL, type="chat-completion", name="Cohere (tools, test)", developer="Cohere")
    )
    async with serve(settings, catalog) as (gateway, root):
        yield CohereHarness(base_url=f"{root}/v1", key=key, gateway=gateway, upstream=fake)
    db.close()
