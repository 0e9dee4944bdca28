"""kill -9 under load: every answered request is billed exactly once after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from omnigate.billing.redis_book import account_key
from tests.e2e.conftest import eventually, stack
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.process import load, start_server, write_config
from tests.server import funded_account
from tests.services import REDIS_URL

LOAD_S = 1.5


@pytest.mark.parametrize(("stack_name", "workers"), [("sqlite", 1), ("postgres+redis", 2)])
async def test_kill_9_under_load_loses_no_charge(tmp_path: Path, stack_name: str, workers: int) -> None:
    with stack(stack_name) as services:
        async with FakeOpenAIUpstream() as upstream:
            config = tmp_path / "omnigate.toml"
            # Flushes are far apart, so at the kill the charges of the last seconds are only in
            # the outbox: this is what the test is about.
            write_config(
                config,
                data_dir=tmp_path / "data",
                upstream_url=upstream.base_url,
                database_url=services.database_url,
                redis_url=services.redis_url,
                redis_prefix=services.redis_prefix,
                flush_interval_s=10.0,
            )
            url = services.database_url or f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}"
            db, account, key = funded_account(url, 50_000_000, low_balance_threshold=0)

            server = await start_server(config, workers=workers)
            running = asyncio.create_task(load(server.url, key, LOAD_S + 5))
            await asyncio.sleep(LOAD_S)
            server.kill()
            answered = (await running).answered
            assert len(answered) > 50, server.log()

            # The restart replays what the killed processes left in their outboxes (a worker that
            # finds another replaying leaves it to that one).
            server = await start_server(config, workers=workers, log_name="restart.log")

            def billed() -> list[str]:
                return [e.request_id or "" for e in db.ledger_entries(account.id) if e.kind == "charge"]

            try:
                await eventually(lambda: set(answered) <= set(billed()), timeout=15.0)
            finally:
                assert server.stop() == 0, server.log()
            charges = [e for e in db.ledger_entries(account.id) if e.kind == "charge"]
            billed_ids = [e.request_id for e in charges]
            assert len(billed_ids) == len(set(billed_ids)), "a request was billed twice"
            assert all(e.amount < 0 for e in charges)
            final = db.account(account.id)
            assert db.ledger_sum(account.id) == final.balance
            if services.redis_url:
                live = redis.Redis.from_url(REDIS_URL).hget(
                    account_key(services.redis_prefix, account.id), "balance"
                )
                assert int(live) == final.balance
            db.close()
