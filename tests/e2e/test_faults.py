"""Faults of the parts around the gateway, tried on the real parts: upstreams that fail, stall,
cut or garble streams; a Redis that stops answering; a PostgreSQL restarted under load.
Each time: clean errors, recovery without a restart, and not a credit lost or counted twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import openai
import pytest
import redis

from omnigate.billing.redis_book import account_key
from omnigate.settings import load_settings
from tests.e2e.conftest import PRICED_MODEL, STARTING_CREDITS, Harness, eventually
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.process import load, write_config
from tests.server import funded_account, serve
from tests.services import private_postgres, private_redis

HELLO = [{"role": "user", "content": "hello"}]


async def _no_credit_held(harness: Harness) -> None:
    """Nothing is held any more: the whole balance can be reserved (and is given back)."""
    gateway = harness.gateway
    await gateway.book.drain()
    key = await gateway.keys.authenticate(f"Bearer {harness.key}")
    balance = (await gateway.book.view(harness.account_id)).balance
    reservation = await gateway.book.reserve(key, balance)
    await gateway.book.release(reservation)


async def _ledger_agrees(harness: Harness, charged_requests: int) -> None:
    await harness.gateway.book.drain()
    await harness.flush()
    charges = [e for e in harness.db.ledger_entries(harness.account_id) if e.kind == "charge"]
    assert len(charges) == charged_requests
    assert len({e.entry_id for e in charges}) == len(charges)
    balance = harness.db.account(harness.account_id).balance
    assert (
        balance
        == harness.db.ledger_sum(harness.account_id)
        == STARTING_CREDITS + sum(e.amount for e in charges)
    )
    assert (await harness.gateway.book.view(harness.account_id)).balance == balance


async def test_a_burst_of_upstream_failures_costs_nothing(harness: Harness) -> None:
    failures = [500, 503, "hang", "disconnect", 502, 529, 500, "hang"]
    harness.upstream.fail_next = list(failures)
    harness.backup.fail_next = list(failures)
    client = harness.client()
    outcomes = []
    for _ in range(len(failures)):
        try:
            await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)
            outcomes.append(200)
        except openai.APIStatusError as exc:
            outcomes.append(exc.status_code)
    # Every failure is a gateway error of its kind: never a 500 of the gateway's own.
    assert set(outcomes) <= {200, 502, 504} and outcomes.count(200) < len(outcomes)
    await _ledger_agrees(harness, outcomes.count(200))
    await _no_credit_held(harness)
    # Recovered without a restart.
    await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)


@pytest.mark.parametrize("fault", ["midstream", "malformed"])
async def test_a_cut_or_garbled_stream_ends_with_an_error_and_is_billed_once(
    harness: Harness, fault: str
) -> None:
    harness.upstream.fail_next = [fault]
    stream = await harness.client().chat.completions.create(model=PRICED_MODEL, messages=HELLO, stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    # What was produced before the fault is billed, once.
    await _ledger_agrees(harness, 1)
    await _no_credit_held(harness)
    assert harness.db.account(harness.account_id).balance < STARTING_CREDITS


async def test_a_hung_redis_gives_clean_errors_and_recovers(tmp_path: Path) -> None:
    with private_redis() as hung:
        async with FakeOpenAIUpstream() as upstream:
            config = tmp_path / "omnigate.toml"
            write_config(
                config, data_dir=tmp_path / "data", upstream_url=upstream.base_url, redis_url=hung.url
            )
            settings = load_settings(config)
            db, account, key = funded_account(settings.database_url, 10_000_000, low_balance_threshold=0)
            async with serve(settings) as (gateway, root):
                before = await load(root, key, 0.5, clients=4)
                assert set(before.statuses) == {200}
                assert hung.process is not None
                hung.process.send_signal(signal.SIGSTOP)
                try:
                    during = await load(root, key, 2.5, clients=4)
                finally:
                    hung.process.send_signal(signal.SIGCONT)
                # Requests that found Redis stopped were refused cleanly (503), none failed with a 500.
                assert 503 in during.statuses and set(during.statuses) <= {200, 503}

                async def serving() -> bool:
                    return set((await load(root, key, 0.2, clients=2)).statuses) == {200}

                await eventually(serving, timeout=10.0)
                after = await load(root, key, 0.5, clients=4)
                await gateway.book.drain()
                await gateway.sync.flush()
                # No hold is left behind, even by reservations whose reply was lost in the pause.
                fields = redis.Redis.from_url(hung.url).hgetall(
                    account_key(settings.redis.prefix, account.id)
                )
                assert sum(int(v) for k, v in fields.items() if k.startswith(b"r:")) == 0
            answered = before.answered + during.answered + after.answered
            charges = [e for e in db.ledger_entries(account.id) if e.kind == "charge"]
            assert sorted(e.request_id for e in charges if e.request_id in set(answered)) == sorted(answered)
            final = db.account(account.id).balance
            assert final == db.ledger_sum(account.id) == int(fields[b"balance"])
            db.close()


async def test_postgresql_restarted_under_load_loses_nothing(tmp_path: Path) -> None:
    with private_postgres() as database:
        async with FakeOpenAIUpstream() as upstream:
            config = tmp_path / "omnigate.toml"
            write_config(
                config,
                data_dir=tmp_path / "data",
                upstream_url=upstream.base_url,
                database_url=database.url,
                flush_interval_s=0.05,
            )
            settings = load_settings(config)
            db, account, key = funded_account(database.url, 10_000_000, low_balance_threshold=0)
            async with serve(settings) as (_, root):
                running = asyncio.create_task(load(root, key, 3.0))
                await asyncio.sleep(1.0)
                await asyncio.to_thread(database.restart)
                result = await running
                # The request path does not touch the database: everything was answered.
                assert set(result.statuses) == {200}

                def all_written() -> bool:
                    return len([e for e in db.ledger_entries(account.id) if e.kind == "charge"]) == len(
                        result.answered
                    )

                # The running server catches up by itself once the database is back.
                await eventually(all_written, timeout=10.0)
            charges = [e.request_id for e in db.ledger_entries(account.id) if e.kind == "charge"]
            assert sorted(charges) == sorted(result.answered)
            assert db.account(account.id).balance == db.ledger_sum(account.id)
            db.close()
