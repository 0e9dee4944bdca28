"""Rate limits and budgets, the same rules in both credit books: in memory, and in a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from omnigate.billing.book import CreditBook
from omnigate.billing.limits import LimitExceeded, Meter, budget_period, check, take
from omnigate.billing.redis_book import RedisCreditBook
from omnigate.store.rows import NO_LIMITS, Limits
from tests.billing.books import account_row, key_row, usage
from tests.services import REDIS_URL, redis_missing, redis_prefix

_NO_REDIS = redis_missing()


@pytest.fixture(params=["memory", "redis"])
async def make_book(request: pytest.FixtureRequest) -> AsyncIterator:
    """Builds a book over one account (balance 1,000,000) with the given account limits."""
    books: list = []
    with redis_prefix() as prefix:

        async def make(account_limits: Limits = NO_LIMITS) -> CreditBook | RedisCreditBook:
            if request.param == "memory":
                book: CreditBook | RedisCreditBook = CreditBook()
            else:
                if _NO_REDIS:
                    pytest.skip(_NO_REDIS)
                book = RedisCreditBook(REDIS_URL, prefix, origin=f"w{len(books)}")
            book.refresh(account_row(1_000_000, limits=account_limits))
            await book.start()
            books.append(book)
            return book

        yield make
        for book in books:
            await book.close()


async def test_requests_per_minute(make_book) -> None:
    book = await make_book()
    key = key_row(limits=Limits(rpm=2))
    await book.reserve(key, 0)
    await book.reserve(key, 0)
    with pytest.raises(LimitExceeded) as refused:
        await book.reserve(key, 0)
    # One request every 30 s refills the bucket.
    assert refused.value.status == 429 and 29 < refused.value.retry_after_s <= 30
    assert "2 requests per minute" in refused.value.message
    await book.reserve(key_row("og-other"), 0)  # other keys are not affected


async def test_concurrency_frees_a_slot_when_a_request_ends(make_book) -> None:
    book = await make_book()
    key = key_row(limits=Limits(concurrency=1))
    first = await book.reserve(key, 10)
    with pytest.raises(LimitExceeded, match="1 requests at once"):
        await book.reserve(key, 10)
    await book.release(first)
    await book.drain()
    second = await book.reserve(key, 10)
    await book.settle(second, 5, usage())
    await book.drain()
    await book.reserve(key, 10)


async def test_tokens_per_minute_count_what_answers_used(make_book) -> None:
    book = await make_book()
    key = key_row(limits=Limits(tpm=100))
    await book.settle(await book.reserve(key, 0), 0, usage(tokens=90))
    await book.drain()
    await book.reserve(key, 0)  # 90 of 100 used: still admitted
    await book.settle(await book.reserve(key, 0), 0, usage(tokens=60))
    await book.drain()
    with pytest.raises(LimitExceeded, match="100 tokens per minute") as refused:
        await book.reserve(key, 0)
    # 150 tokens at 100 a minute: the last minute's worth drains in 30 s.
    assert 25 < refused.value.retry_after_s <= 30


async def test_a_budget_counts_holds_and_charges(make_book) -> None:
    book = await make_book()
    key = key_row(limits=Limits(budget=100, budget_period="day"))
    held = await book.reserve(key, 60)
    with pytest.raises(LimitExceeded, match="daily spending limit") as refused:
        await book.reserve(key, 50)
    assert refused.value.status == 429 and 0 < refused.value.retry_after_s <= 86400
    await book.settle(held, 30, usage())
    await book.drain()
    await book.reserve(key, 70)  # 30 spent + 70 = the budget
    with pytest.raises(LimitExceeded):
        await book.reserve(key, 1)
    await book.reserve(key, 0)  # a free request costs nothing of the budget


async def test_a_total_budget_is_a_403_that_waiting_cannot_fix(make_book) -> None:
    book = await make_book()
    key = key_row(limits=Limits(budget=10, budget_period="total"))
    with pytest.raises(LimitExceeded) as refused:
        await book.reserve(key, 11)
    assert refused.value.status == 403 and refused.value.retry_after_s is None


async def test_account_limits_cover_all_its_keys(make_book) -> None:
    book = await make_book(Limits(rpm=2))
    await book.reserve(key_row("og-a"), 0)
    await book.reserve(key_row("og-b"), 0)
    with pytest.raises(LimitExceeded, match="account 'a1'"):
        await book.reserve(key_row("og-c"), 0)


async def test_a_refused_request_takes_nothing(make_book) -> None:
    book = await make_book()
    key = key_row(limits=Limits(rpm=1, budget=10))
    with pytest.raises(LimitExceeded):
        await book.reserve(key, 11)  # over the budget: the request bucket stays untouched
    await book.reserve(key, 10)


def test_budget_periods_start_and_end_on_utc_boundaries() -> None:
    at = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    day, week, month, total = (budget_period(kind, at) for kind in ("day", "week", "month", "total"))
    assert (day.stamp, day.end - day.start) == ("d2026-12-31", timedelta(days=1))
    assert (week.stamp, week.start.weekday()) == ("w2026-12-28", 0)
    assert (month.stamp, month.end) == ("m2026-12", datetime(2027, 1, 1, tzinfo=UTC))
    assert (total.stamp, total.end) == ("total", None)


def test_the_request_bucket_never_lets_a_window_edge_double_the_rate() -> None:
    meter, limits = Meter(), Limits(rpm=60)
    admitted = 0
    for tenth in range(1200):  # two minutes, ten tries a second
        now = 1000.0 + tenth / 10
        try:
            check(meter, limits, 0, now, "key")
        except LimitExceeded:
            continue
        take(meter, limits, 0, now)
        admitted += 1
    # The first minute's burst of 60, then one a second: never 120 in any minute.
    assert 60 + 119 <= admitted <= 60 + 120
