"""A gateway that routes every catalogue model to the fake service (a provider of kind "aimlapi",
markup 1), for the catalogue-wide tests: one start-up serves every parametrised case."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from omnigate.settings import load_settings
from tests.fakes.aimlapi_upstream import FakeAimlapiUpstream
from tests.server import funded_account, serve

SERVICE_KEY = "aiml-fake"


@dataclass
class Setup:
    root: str
    key: str
    service: FakeAimlapiUpstream

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.key}"}
        async with (
            aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.request(method, self.root + path, **kwargs) as response,
        ):
            return response.status, orjson.loads(await response.read())


@asynccontextmanager
async def gateway_over_service(folder: Path, extra_config: str = "") -> AsyncIterator[Setup]:
    """`extra_config`: TOML placed before the provider (engines, task settings)."""
    async with FakeAimlapiUpstream(api_key=SERVICE_KEY) as service:
        config = folder / "omnigate.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n'
            + textwrap.dedent(extra_config)
            + textwrap.dedent(
                f"""
                [providers.svc]
                kind = "aimlapi"
                base_url = "{service.base_url}"
                api_key = "{SERVICE_KEY}"

                [[routes]]
                model = "*"
                provider = "svc"
                """
            )
        )
        settings = load_settings(config)
        db, _, key = funded_account(settings.database_url, 10**12)
        try:
            async with serve(settings) as (_, root):
                yield Setup(root, key, service)
        finally:
            db.close()
