"""The in-memory credit book: reservations never overdraw, settlements become ledger entries."""

from __future__ import annotations

import pytest

from omnigate.billing.book import CreditBook, InsufficientCredits
from tests.billing.books import KEY, USAGE, account_row


def book_with(balance: int) -> CreditBook:
    book = CreditBook()
    book.refresh(account_row(balance))
    return book


async def test_reservations_stop_at_the_balance() -> None:
    book = book_with(100)
    first = await book.reserve(KEY, 60)
    with pytest.raises(InsufficientCredits) as caught:
        await book.reserve(KEY, 60)
    assert caught.value.available == 40 and caught.value.needed == 60
    await book.release(first)
    await book.reserve(KEY, 60)


async def test_settle_charges_the_real_cost_and_frees_the_rest() -> None:
    book = book_with(100)
    reservation = await book.reserve(KEY, 60)
    assert await book.settle(reservation, 25, USAGE) == 25
    state = book.accounts[1]
    assert (state.balance, state.reserved, state.available) == (75, 0, 75)
    [written] = [p.entry for p in book.take_pending()]
    assert written.amount == -25 and written.kind == "charge" and written.model == "m"


async def test_settle_is_idempotent_and_release_after_settle_is_a_no_op() -> None:
    book = book_with(100)
    reservation = await book.reserve(KEY, 10)
    await book.settle(reservation, 10, USAGE)
    assert await book.settle(reservation, 10, USAGE) == 0
    await book.release(reservation)
    assert book.accounts[1].reserved == 0 and book.accounts[1].balance == 90


async def test_a_cost_above_the_balance_is_capped_and_noted() -> None:
    book = book_with(30)
    reservation = await book.reserve(KEY, 10)
    assert await book.settle(reservation, 50, USAGE) == 30
    assert book.accounts[1].balance == 0
    [written] = [p.entry for p in book.take_pending()]
    assert written.note and "capped" in written.note


async def test_free_requests_pass_at_zero_balance_and_are_recorded() -> None:
    book = book_with(0)
    reservation = await book.reserve(KEY, 0)
    assert await book.settle(reservation, 0, USAGE) == 0
    [written] = [p.entry for p in book.take_pending()]
    assert written.amount == 0


async def test_flush_moves_pending_into_the_database_balance() -> None:
    book = book_with(100)
    await book.settle(await book.reserve(KEY, 10), 10, USAGE)
    entries = book.take_pending()
    book.flushed({1: sum(p.entry.amount for p in entries)}, {1: 90})
    state = book.accounts[1]
    assert (state.db_balance, state.pending, state.balance) == (90, 0, 90)


async def test_a_refresh_keeps_unflushed_charges() -> None:
    book = book_with(100)
    await book.settle(await book.reserve(KEY, 10), 10, USAGE)
    # A top-up of 50 made elsewhere: the database now says 150 (it has not seen our charge yet).
    book.refresh(account_row(150))
    assert (await book.view(1)).balance == 140


async def test_failed_flush_requeues_in_order() -> None:
    book = book_with(100)
    await book.settle(await book.reserve(KEY, 1), 1, USAGE)
    first = book.take_pending()
    await book.settle(await book.reserve(KEY, 2), 2, USAGE)
    book.requeue(first)
    assert [p.entry.amount for p in book.take_pending()] == [-1, -2]
