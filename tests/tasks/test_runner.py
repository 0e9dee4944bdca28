"""The task runner's steps on the cases a client cannot stage: a creator that died halfway, a
task past its age, a provider gone from the config, upstream failures of both kinds."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnigate.gateway import Gateway
from omnigate.settings import load_settings
from omnigate.store.db import Database
from omnigate.store.rows import LedgerEntry
from omnigate.store.tasks import TaskRow, charge_entry_id, refund_entry_id
from tests.fakes.aimlapi_upstream import FakeAimlapiUpstream, Task
from tests.server import funded_account

STARTING = 1_000_000
MODEL = "kling-video/v1/standard/text-to-video"


@dataclass
class Setup:
    gateway: Gateway
    db: Database
    account_id: int
    service: FakeAimlapiUpstream

    def task(self, *, upstream_id: str | None = "", provider: str = "svc", charged: int | None = 500) -> str:
        """A task as a create request leaves it (`upstream_id=""`: one the fake really runs)."""
        if upstream_id == "":
            upstream_id = f"{uuid.uuid4()}:{MODEL}"
            output = {"url": self.service.file_url("mp4"), "duration": 5}
            self.service.tasks[upstream_id] = Task(upstream_id, "video", MODEL, output)
        task_id = f"{uuid.uuid4()}:{MODEL}"
        self.db.insert_task(
            task_id=task_id,
            account_id=self.account_id,
            key_prefix="og-test",
            family="video",
            model=MODEL,
            request_id="req",
            status="queued",
            body='{"prompt": "a cat"}',
            provider=provider,
            upstream_model=MODEL,
            upstream_id=upstream_id,
            first_poll_s=0.0,
        )
        if charged is not None:
            self.charge(task_id, charged)
            self.db.set_task_charged(task_id, charged)
        return task_id

    def charge(self, task_id: str, credits: int) -> None:
        entry = LedgerEntry(
            entry_id=charge_entry_id(task_id.split(":")[0]),
            account_id=self.account_id,
            amount=-credits,
            kind="charge",
        )
        self.db.write_ledger([entry], origin="test")

    def claim(self, task_id: str, *, unsettled_after_s: float = 60) -> TaskRow:
        [task] = self.db.claim_tasks(
            self.gateway.runner.owner, limit=1, lease_s=60, unsettled_after_s=unsettled_after_s
        )
        assert task.id == task_id
        return task

    def refund(self, task_id: str) -> int | None:
        return self.db.ledger_amount(refund_entry_id(task_id.split(":")[0]))


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with FakeAimlapiUpstream(api_key="svc-key") as service:
        config = tmp_path / "omnigate.toml"
        config.write_text(
            textwrap.dedent(
                f"""
                data_dir = "{tmp_path / "data"}"
                [engines]
                builtin = false
                [tasks]
                max_age_s = 3600
                poll_min_s = 0.001
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
        settings = load_settings(config)
        db, account, _ = funded_account(settings.database_url, STARTING)
        gateway = Gateway.build(settings)
        await gateway.start(run_tasks=False)
        try:
            yield Setup(gateway, db, account.id, service)
        finally:
            await gateway.stop()
            db.close()


async def test_a_task_its_creator_never_charged_ends_uncharged(setup: Setup) -> None:
    task_id = setup.task(charged=None)
    assert setup.db.claim_tasks("r", limit=1, lease_s=60, unsettled_after_s=60) == []  # its creator may live
    await setup.gateway.runner.step(setup.claim(task_id, unsettled_after_s=0))
    task = setup.db.task(task_id)
    assert (task.status, task.charged, task.refunded) == ("error", 0, 0)
    assert "nothing was charged" in task.error
    assert setup.db.account(setup.account_id).balance == STARTING


async def test_a_task_whose_creator_died_after_charging_goes_on_with_that_charge(setup: Setup) -> None:
    task_id = setup.task(charged=None)
    setup.charge(task_id, 700)  # in the ledger (its outbox was replayed), not on the task
    await setup.gateway.runner.step(setup.claim(task_id, unsettled_after_s=0))
    task = setup.db.task(task_id)
    assert (task.status, task.charged) == ("queued", 700)
    for _ in range(2):  # the fake's task completes on its third poll
        await asyncio.sleep(0.05)  # past its next poll time
        await setup.gateway.runner.step(setup.claim(task_id))
    task = setup.db.task(task_id)
    assert (task.status, task.refunded) == ("completed", 0)
    assert (
        setup.db.account(setup.account_id).balance == STARTING - 700 == setup.db.ledger_sum(setup.account_id)
    )


async def test_a_task_past_its_age_is_refunded_in_full(setup: Setup) -> None:
    task_id = setup.task()
    setup.gateway.runner.settings.max_age_s = 0
    await setup.gateway.runner.step(setup.claim(task_id))
    task = setup.db.task(task_id)
    assert (task.status, task.refunded) == ("error", 500) and "did not finish" in task.error
    assert setup.refund(task_id) == 500 and setup.db.account(setup.account_id).balance == STARTING


async def test_a_task_of_a_provider_gone_from_the_config_is_refunded(setup: Setup) -> None:
    task_id = setup.task(provider="removed")
    await setup.gateway.runner.step(setup.claim(task_id))
    task = setup.db.task(task_id)
    assert (task.status, task.refunded) == ("error", 500) and "no longer configured" in task.error


async def test_an_upstream_that_lost_the_task_ends_it_with_a_full_refund(setup: Setup) -> None:
    task_id = setup.task(upstream_id=f"{uuid.uuid4()}:{MODEL}")  # the fake never heard of it
    await setup.gateway.runner.step(setup.claim(task_id))
    task = setup.db.task(task_id)
    assert (task.status, task.refunded) == ("error", 500)
    assert setup.db.account(setup.account_id).balance == STARTING


async def test_a_passing_upstream_failure_only_delays_the_task(setup: Setup) -> None:
    task_id = setup.task()
    setup.service.fail_next.append(503)
    await setup.gateway.runner.step(setup.claim(task_id))
    task = setup.db.task(task_id)
    assert (task.status, task.polls, task.lease_owner, task.refunded) == ("queued", 1, None, None)
    assert task.next_poll_at > task.updated_at  # backed off


async def test_a_runner_that_lost_its_lease_writes_nothing(setup: Setup) -> None:
    task_id = setup.task()
    task = setup.claim(task_id)
    setup.db.release_leases(setup.gateway.runner.owner)
    setup.db.claim_tasks("another-runner", limit=1, lease_s=60, unsettled_after_s=60)
    setup.gateway.runner.settings.max_age_s = 0  # it would end the task, were it still its own
    await setup.gateway.runner.step(task)
    assert setup.db.task(task_id).status == "queued" and setup.refund(task_id) is None
