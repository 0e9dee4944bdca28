"""Tasks under faults, with real processes: kill -9 with tasks in flight, and two task workers
sharing one PostgreSQL. Every task ends once and moves its money once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest
import redis

from omnigate.billing.redis_book import account_key
from omnigate.store.db import Database
from omnigate.store.tasks import ACTIVE, FINAL, charge_entry_id, refund_entry_id
from tests.e2e.conftest import eventually, stack
from tests.fakes.aimlapi_upstream import FakeAimlapiUpstream
from tests.process import start_server
from tests.server import funded_account
from tests.services import REDIS_URL

STARTING = 500_000_000
VIDEO = "kling-video/v1/standard/text-to-video"


def write_config(
    path: Path, service: FakeAimlapiUpstream, services, *, poll_s: float, run: bool = True
) -> None:
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{path.parent / "data"}"
            [engines]
            builtin = false
            [database]
            url = "{services.database_url}"
            [redis]
            url = "{services.redis_url}"
            prefix = "{services.redis_prefix}"
            [billing]
            flush_interval_s = 0.05
            [tasks]
            run = {"true" if run else "false"}
            poll_min_s = {poll_s}
            poll_max_s = {poll_s}
            lease_s = 5
            [providers.svc]
            kind = "aimlapi"
            base_url = "{service.base_url}"
            api_key = "svc-key"
            [[routes]]
            model = "*"
            provider = "svc"
            """
        )
    )


async def create_tasks(url: str, key: str, count: int) -> list[str]:
    """`count` video tasks, one in five of them bound to fail upstream."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:

        async def one(number: int) -> str:
            prompt = f"{'[fail] ' if number % 5 == 0 else ''}clip {number}"
            async with http.post(url + "/v2/video/generations", json={"model": VIDEO, "prompt": prompt}) as r:
                assert r.status == 200, await r.text()
                return (await r.json())["id"]

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def assert_settled_once(db: Database, account_id: int, task_ids: list[str], services) -> None:
    """Each task ended, with one charge row and one refund row, a full refund for the failed
    ones; the balance is the ledger's sum, in the database and in Redis."""
    entries = db.ledger_entries(account_id)
    ids = [e.entry_id for e in entries]
    assert len(ids) == len(set(ids))
    for task_id in task_ids:
        task = db.task(task_id)
        assert task is not None and task.status in FINAL, task
        uuid = task_id.split(":")[0]
        charge, refund = db.ledger_amount(charge_entry_id(uuid)), db.ledger_amount(refund_entry_id(uuid))
        assert charge is not None and charge < 0 and -charge == task.charged
        assert refund == (-charge if task.status == "error" else 0) == task.refunded
        assert ("[fail]" in task.body) == (task.status == "error")
    assert len([e for e in entries if e.kind == "refund"]) == len(task_ids)
    balance = db.account(account_id).balance
    assert balance == db.ledger_sum(account_id)
    if services.redis_url:
        live = redis.Redis.from_url(REDIS_URL).hget(account_key(services.redis_prefix, account_id), "balance")
        assert int(live) == balance


@pytest.mark.parametrize("stack_name", ["sqlite", "postgres+redis"])
async def test_kill_9_with_tasks_in_flight_then_each_ends_once(tmp_path: Path, stack_name: str) -> None:
    with stack(stack_name) as services:
        async with FakeAimlapiUpstream(api_key="svc-key") as service:
            config = tmp_path / "omnigate.toml"
            write_config(config, service, services, poll_s=0.4)
            url = services.database_url or f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}"
            db, account, key = funded_account(url, STARTING, low_balance_threshold=0)
            server = await start_server(config)
            task_ids = await create_tasks(server.url, key, 20)
            await eventually(lambda: any(db.task(t).status == "generating" for t in task_ids), timeout=5.0)
            server.kill()
            in_flight = [t for t in task_ids if db.task(t).status in ACTIVE]
            assert in_flight, "every task ended before the kill: the test proves nothing"

            server = await start_server(config, log_name="restart.log")
            try:
                await eventually(lambda: all(db.task(t).status in FINAL for t in task_ids), timeout=30.0)
                await eventually(lambda: not db.unmirrored_tasks(), timeout=15.0)
            finally:
                assert server.stop() == 0, server.log()
            assert_settled_once(db, account.id, task_ids, services)
            db.close()


async def test_two_workers_on_one_postgres_settle_each_task_once(tmp_path: Path) -> None:
    with stack("postgres+redis") as services:
        async with FakeAimlapiUpstream(api_key="svc-key") as service:
            config = tmp_path / "omnigate.toml"
            # The server only creates; two `omnigate worker` processes run the tasks.
            write_config(config, service, services, poll_s=0.05, run=False)
            db, account, key = funded_account(services.database_url, STARTING, low_balance_threshold=0)
            env = {**os.environ, "OMNIGATE_CONFIG": str(config)}
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "omnigate.cli", "worker"],
                    env=env,
                    stdout=(tmp_path / f"worker{n}.log").open("w"),
                    stderr=subprocess.STDOUT,
                )
                for n in range(2)
            ]
            server = await start_server(config)
            try:
                task_ids = await create_tasks(server.url, key, 50)
                await eventually(lambda: all(db.task(t).status in FINAL for t in task_ids), timeout=60.0)
                await eventually(lambda: not db.unmirrored_tasks(), timeout=15.0)
            finally:
                assert server.stop() == 0, server.log()
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                codes = [worker.wait(timeout=30) for worker in workers]
            logs = [(tmp_path / f"worker{n}.log").read_text() for n in range(2)]
            assert codes == [0, 0], logs
            # The upstream saw each task polled to its end by one runner at a time: no poll
            # after the one that ended it.
            assert all(task.polls == 3 for task in service.tasks.values()), logs
            assert_settled_once(db, account.id, task_ids, services)
            db.close()
