"""The local model's waiting room: one at a time, bounded, accounts served in turn."""

from __future__ import annotations

import asyncio

import pytest

from omnigate.engines.scheduler import FairScheduler, QueueFull


async def test_one_at_a_time_and_bounded() -> None:
    scheduler = FairScheduler(max_waiting=1)
    await scheduler.acquire(1)
    waiter = asyncio.create_task(scheduler.acquire(1))
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):
        await scheduler.acquire(2)
    assert not waiter.done()
    scheduler.release()
    await waiter
    scheduler.release()
    assert not scheduler._busy


async def test_accounts_take_turns() -> None:
    scheduler = FairScheduler(max_waiting=10)
    await scheduler.acquire(0)
    served: list[int] = []

    async def ask(account: int) -> None:
        await scheduler.acquire(account)
        served.append(account)

    # Account 1 queues three requests before account 2 queues one; account 2 must not wait for all three.
    tasks = [asyncio.create_task(ask(a)) for a in (1, 1, 1, 2)]
    await asyncio.sleep(0)
    for _ in tasks:
        scheduler.release()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert served == [1, 2, 1, 1]


async def test_a_waiter_that_leaves_gives_up_its_place() -> None:
    scheduler = FairScheduler(max_waiting=2)
    await scheduler.acquire(1)
    leaving = asyncio.create_task(scheduler.acquire(2))
    staying = asyncio.create_task(scheduler.acquire(3))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    assert scheduler.waiting == 1
    scheduler.release()
    await staying
    assert leaving.cancelled()
