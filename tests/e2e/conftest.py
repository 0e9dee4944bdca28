"""End-to-end harness: the real gateway app on a real socket, a fake OpenAI upstream, real SQLite."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from omnigate.gateway import Gateway
from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.server import funded_account, serve
from tests.services import REDIS_URL, postgres_missing, postgres_schema, redis_missing, redis_prefix

# Prices for the model the tests spend on: 1 and 2 USD per million tokens = 2 and 4 credits/token.
PRICED_MODEL = "gpt-4o"
INPUT_CREDITS_PER_TOKEN = 2
OUTPUT_CREDITS_PER_TOKEN = 4
STARTING_CREDITS = 1_000_000


@dataclass
class Harness:
    stack: str
    base_url: str
    root_url: str
    key: str
    admin_key: str
    account_id: int
    db: Database
    gateway: Gateway
    upstream: FakeOpenAIUpstream
    backup: FakeOpenAIUpstream
    config_path: Path

    def client(self, key: str | None = None, **kwargs) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=key or self.key, max_retries=0, **kwargs)

    async def flush(self) -> None:
        """Everything settled so far into the ledger (with Redis, once applied there)."""
        await self.gateway.book.drain()
        await self.gateway.sync.flush()


# The stacks every harness test runs on: the embedded defaults, and the scaled-out mode.
STACKS = ("sqlite", "postgres+redis")


@dataclass(frozen=True)
class Stack:
    name: str
    database_url: str  # "" for SQLite under the data folder
    redis_url: str = ""
    redis_prefix: str = ""


@contextmanager
def stack(name: str) -> Iterator[Stack]:
    """The services of one stack, isolated for one test (a PostgreSQL schema, a Redis prefix)."""
    if name == "sqlite":
        yield Stack(name, "")
        return
    missing = postgres_missing() or redis_missing()
    if missing:
        pytest.skip(missing)
    with postgres_schema() as url, redis_prefix() as prefix:
        yield Stack(name, url, REDIS_URL, prefix)


def write_config(
    path: Path,
    upstream: FakeOpenAIUpstream,
    backup: FakeOpenAIUpstream,
    data_dir: Path,
    *,
    primary_speaks_responses: bool = False,
    services: Stack = Stack("sqlite", ""),
    unpriced: str = "free",
    extra: str = "",
) -> None:
    """`primary_speaks_responses`: the primary takes /v1/responses natively (the backup never
    does, so a failover crosses from one road to the other). `extra`: TOML tables to add."""
    responses = "true" if primary_speaks_responses else "false"
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{data_dir}"

            [database]
            url = "{services.database_url}"

            [redis]
            url = "{services.redis_url}"
            prefix = "{services.redis_prefix}"

            [routing]
            max_attempts = 2
            read_timeout_s = 1.0
            backoff_base_s = 0.01

            [billing]
            flush_interval_s = 0.05
            poll_interval_s = 0.1
            # The catch-all route serves many unpriced models here; the refusal has tests of its own.
            unpriced = "{unpriced}"

            [providers.primary]
            kind = "openai"
            base_url = "{upstream.base_url}"
            api_key = "sk-fake"
            responses = {responses}

            [providers.backup]
            kind = "openai"
            base_url = "{backup.base_url}"
            api_key_env = "OMNIGATE_TEST_BACKUP_KEY"

            [[routes]]
            model = "gpt-4o"
            provider = "primary"
            upstream_model = "gpt-4o-2024-08-06"

            [[routes]]
            model = "gpt-4o"
            provider = "backup"

            [[routes]]
            model = "*"
            provider = "primary"

            [[prices]]
            model = "{PRICED_MODEL}"
            input_per_million = {INPUT_CREDITS_PER_TOKEN / 2}
            output_per_million = {OUTPUT_CREDITS_PER_TOKEN / 2}
            """
        )
        + textwrap.dedent(extra)
    )


@pytest.fixture(params=STACKS)
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    with stack(request.param) as services:
        async with running_harness(tmp_path, monkeypatch, services=services) as running:
            yield running


@pytest.fixture
async def local_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    """The harness on SQLite only, for tests of the local engines: what they check does not
    depend on the stack, and each run of them takes seconds."""
    async with running_harness(tmp_path, monkeypatch) as running:
        yield running


@pytest.fixture(params=STACKS)
async def native_harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """The harness with a primary upstream that speaks the Responses API itself."""
    with stack(request.param) as services:
        async with running_harness(
            tmp_path, monkeypatch, primary_speaks_responses=True, services=services
        ) as running:
            yield running


@asynccontextmanager
async def running_harness(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    primary_speaks_responses: bool = False,
    services: Stack = Stack("sqlite", ""),
    unpriced: str = "free",
    extra: str = "",
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("OMNIGATE_TEST_BACKUP_KEY", "sk-fake")
    upstream = FakeOpenAIUpstream()
    backup = FakeOpenAIUpstream()
    await upstream.start()
    await backup.start()
    config = tmp_path / "omnigate.toml"
    write_config(
        config,
        upstream,
        backup,
        tmp_path / "data",
        primary_speaks_responses=primary_speaks_responses,
        services=services,
        unpriced=unpriced,
        extra=extra,
    )
    settings = load_settings(config)

    db, account, key = funded_account(settings.database_url, STARTING_CREDITS)
    admin_key, _ = db.create_key("team", admin=True, origin="test")

    async with serve(settings) as (gateway, root):
        yield Harness(
            stack=services.name,
            base_url=root + "/v1",
            root_url=root,
            key=key,
            admin_key=admin_key,
            account_id=account.id,
            db=db,
            gateway=gateway,
            upstream=upstream,
            backup=backup,
            config_path=config,
        )
    db.close()
    await upstream.stop()
    await backup.stop()


async def eventually(check, timeout: float = 2.0) -> None:
    """Poll an async or sync predicate until it holds; fail with the last value after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition still false after {timeout}s")
        await asyncio.sleep(0.02)


async def assert_billed(harness: Harness, input_tokens: int, output_tokens: int) -> None:
    """The account paid exactly these tokens at the priced model's rates, and the ledger agrees."""
    expected = input_tokens * INPUT_CREDITS_PER_TOKEN + output_tokens * OUTPUT_CREDITS_PER_TOKEN
    await harness.flush()
    account = harness.db.account(harness.account_id)
    assert account.balance == STARTING_CREDITS - expected
    assert harness.db.ledger_sum(harness.account_id) == account.balance
