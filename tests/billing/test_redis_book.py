"""The Redis credit book against a real Redis: atomic across processes, idempotent settlements,
no holds left by the dead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis

from omnigate.billing.book import InsufficientCredits
from omnigate.billing.limits import LimitExceeded
from omnigate.billing.redis_book import CreditStoreUnavailable, RedisCreditBook, account_key, top_up_sync
from omnigate.store.rows import Limits
from tests.billing.books import KEY, USAGE, account_row, key_row
from tests.services import REDIS_URL, redis_missing, redis_prefix

# Probed once: each probe of a missing Redis waits out its connect timeout.
_NO_REDIS = redis_missing()
pytestmark = pytest.mark.skipif(_NO_REDIS is not None, reason=_NO_REDIS or "")


@pytest.fixture
async def books() -> AsyncIterator[tuple[RedisCreditBook, RedisCreditBook]]:
    """Two books on one Redis, as two workers would have them."""
    with redis_prefix() as prefix:
        pair = (
            RedisCreditBook(REDIS_URL, prefix, origin="wa"),
            RedisCreditBook(REDIS_URL, prefix, origin="wb"),
        )
        for book in pair:
            book.refresh(account_row(100))
            await book.start()
        yield pair
        for book in pair:
            await book.close()


def live_balance(book: RedisCreditBook) -> int:
    return int(redis.Redis.from_url(REDIS_URL).hget(account_key(book.prefix, 1), "balance"))


async def test_two_workers_share_one_balance(books) -> None:
    a, b = books
    held = await a.reserve(KEY, 70)
    with pytest.raises(InsufficientCredits) as caught:
        await b.reserve(KEY, 40)
    assert caught.value.available == 30
    assert await a.settle(held, 20, USAGE) == 20
    assert (await a.view(1)).balance == 80  # this worker counts its own charge at once
    await a.drain()
    assert (await b.view(1)).balance == 80
    await b.reserve(KEY, 80)


async def test_concurrent_reservations_never_overdraw(books) -> None:
    async def try_reserve(book: RedisCreditBook) -> bool:
        try:
            await book.reserve(KEY, 10)
            return True
        except InsufficientCredits:
            return False

    outcomes = await asyncio.gather(*(try_reserve(books[i % 2]) for i in range(50)))
    assert sum(outcomes) == 10


async def test_a_dead_workers_holds_are_dropped(books) -> None:
    a, b = books
    await a.reserve(KEY, 90)
    # The worker dies without closing: its heartbeat key expires (here: removed at once).
    redis.Redis.from_url(REDIS_URL).delete(f"{a.prefix}worker:{a.worker}")
    await b.reserve(KEY, 100)


async def test_top_ups_reach_the_live_balance(books) -> None:
    a, _ = books
    await a.settle(await a.reserve(KEY, 10), 10, USAGE)
    await a.drain()
    top_up_sync(REDIS_URL, a.prefix, 1, 500)
    assert (await a.view(1)).balance == 590 == live_balance(a)


async def test_settlements_sent_twice_count_once(books) -> None:
    a, _ = books
    ops = []
    for cost in (5, 7):
        await a.settle(await a.reserve(KEY, 10), cost, USAGE)
        ops.append(a._ops[-1])
    await a.drain()
    assert live_balance(a) == 88
    # A batch whose reply was lost is sent again; so is an outbox replayed after a crash.
    await a.apply(ops)
    await a.replay(a.worker, [op.item.record for op in ops if op.item is not None])
    assert live_balance(a) == 88
    await a.reserve(KEY, 88)  # and no hold was given back twice (which would free credit)
    with pytest.raises(InsufficientCredits):
        await a.reserve(KEY, 1)


async def test_a_dead_workers_outbox_replays_onto_the_balance(books) -> None:
    a, b = books
    held = await a.reserve(KEY, 30)
    await a.settle(held, 25, USAGE)
    [op] = a._ops
    a._ops.clear()  # killed before its batch went out
    assert op.item is not None
    await b.replay(a.worker, [op.item.record])
    assert live_balance(a) == 75
    await b.reserve(KEY, 75)  # the dead worker's hold was given back too


async def test_an_unreachable_redis_is_a_clear_refusal() -> None:
    book = RedisCreditBook("redis://127.0.0.1:1/0", "x:", origin="wz")
    book.refresh(account_row(100))
    with pytest.raises(CreditStoreUnavailable):
        await book.reserve(KEY, 10)


async def test_limits_hold_across_workers_exactly(books) -> None:
    """Two workers, one key: together they admit what the limit allows, not twice as much."""
    a, b = books
    a.refresh(account_row(10**9))
    b.refresh(account_row(10**9))
    key = key_row(limits=Limits(rpm=10, concurrency=6, budget=10**9))

    async def try_reserve(book: RedisCreditBook) -> bool:
        try:
            await book.reserve(key, 1)
            return True
        except LimitExceeded:
            return False

    outcomes = await asyncio.gather(*(try_reserve(books[i % 2]) for i in range(20)))
    assert sum(outcomes) == 6  # the concurrency limit binds first: six in flight at once


async def test_a_rate_limit_holds_across_workers_exactly(books) -> None:
    key = key_row(limits=Limits(rpm=10))

    async def one(book: RedisCreditBook) -> bool:
        try:
            await book.release(await book.reserve(key, 0))
            return True
        except LimitExceeded:
            return False

    outcomes = await asyncio.gather(*(one(books[i % 2]) for i in range(20)))
    assert sum(outcomes) == 10
