"""The Redis credit book against a real Redis: atomic across processes, no holds left by the dead."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis

from omnigate.billing.book import InsufficientCredits, Usage
from omnigate.billing.redis_book import RedisCreditBook, account_key, top_up_sync
from omnigate.store.db import AccountRow
from tests.services import REDIS_URL, redis_missing

USAGE = Usage(key_prefix="og-k", model="m", request_id="r", prompt_tokens=1, completion_tokens=1)


# Probed once: each probe of a missing Redis waits out its connect timeout.
_NO_REDIS = redis_missing()
pytestmark = pytest.mark.skipif(_NO_REDIS is not None, reason=_NO_REDIS or "")


@pytest.fixture
async def books() -> AsyncIterator[tuple[RedisCreditBook, RedisCreditBook]]:
    """Two books on one Redis, as two workers would have them."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    pair = (RedisCreditBook(REDIS_URL, prefix), RedisCreditBook(REDIS_URL, prefix))
    for book in pair:
        book.refresh(
            AccountRow(id=1, name="a", balance=100, low_balance_threshold=0, updated_at=datetime.now(UTC))
        )
        await book.start()
    yield pair
    for book in pair:
        await book.close()
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


async def test_two_workers_share_one_balance(books) -> None:
    a, b = books
    held = await a.reserve(1, 70)
    with pytest.raises(InsufficientCredits) as caught:
        await b.reserve(1, 40)
    assert caught.value.available == 30
    assert await a.settle(held, 20, USAGE) == 20
    assert (await b.view(1)).balance == 80
    await b.reserve(1, 80)


async def test_concurrent_reservations_never_overdraw(books) -> None:
    async def try_reserve(book: RedisCreditBook) -> bool:
        try:
            await book.reserve(1, 10)
            return True
        except InsufficientCredits:
            return False

    outcomes = await asyncio.gather(*(try_reserve(books[i % 2]) for i in range(50)))
    assert sum(outcomes) == 10


async def test_a_dead_workers_holds_are_dropped(books) -> None:
    a, b = books
    await a.reserve(1, 90)
    # The worker dies without closing: its heartbeat key expires (here: removed at once).
    redis.Redis.from_url(REDIS_URL).delete(f"{a.prefix}worker:{a.worker}")
    await b.reserve(1, 100)


async def test_top_ups_reach_the_live_balance(books) -> None:
    a, _ = books
    await a.settle(await a.reserve(1, 10), 10, USAGE)
    top_up_sync(REDIS_URL, a.prefix, 1, 500)
    assert (await a.view(1)).balance == 590
    assert redis.Redis.from_url(REDIS_URL).hget(account_key(a.prefix, 1), "balance") == b"590"
