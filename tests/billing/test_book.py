"""The in-memory credit book: reservations never overdraw, settlements become ledger entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnigate.billing.book import CreditBook, InsufficientCredits, Usage
from omnigate.store.db import AccountRow


def book_with(balance: int) -> CreditBook:
    book = CreditBook()
    book.refresh(
        AccountRow(id=1, name="a", balance=balance, low_balance_threshold=0, updated_at=datetime.now(UTC))
    )
    return book


def entry() -> Usage:
    return Usage(key_prefix="og-k", model="m", request_id="r", prompt_tokens=1, completion_tokens=1)


def test_reservations_stop_at_the_balance() -> None:
    book = book_with(100)
    first = book.reserve(1, 60)
    with pytest.raises(InsufficientCredits) as caught:
        book.reserve(1, 60)
    assert caught.value.available == 40 and caught.value.needed == 60
    book.release(first)
    book.reserve(1, 60)


def test_settle_charges_the_real_cost_and_frees_the_rest() -> None:
    book = book_with(100)
    reservation = book.reserve(1, 60)
    assert book.settle(reservation, 25, entry()) == 25
    state = book.accounts[1]
    assert (state.balance, state.reserved, state.available) == (75, 0, 75)
    [written] = book.take_pending()
    assert written.amount == -25 and written.kind == "charge" and written.model == "m"


def test_settle_is_idempotent_and_release_after_settle_is_a_no_op() -> None:
    book = book_with(100)
    reservation = book.reserve(1, 10)
    book.settle(reservation, 10, entry())
    assert book.settle(reservation, 10, entry()) == 0
    book.release(reservation)
    assert book.accounts[1].reserved == 0 and book.accounts[1].balance == 90


def test_a_cost_above_the_balance_is_capped_and_noted() -> None:
    book = book_with(30)
    reservation = book.reserve(1, 10)
    assert book.settle(reservation, 50, entry()) == 30
    assert book.accounts[1].balance == 0
    [written] = book.take_pending()
    assert "capped" in written.note


def test_free_requests_pass_at_zero_balance_and_are_recorded() -> None:
    book = book_with(0)
    reservation = book.reserve(1, 0)
    assert book.settle(reservation, 0, entry()) == 0
    [written] = book.take_pending()
    assert written.amount == 0


def test_flush_moves_pending_into_the_database_balance() -> None:
    book = book_with(100)
    book.settle(book.reserve(1, 10), 10, entry())
    entries = book.take_pending()
    book.flushed({1: sum(e.amount for e in entries)})
    state = book.accounts[1]
    assert (state.db_balance, state.pending, state.balance) == (90, 0, 90)


def test_a_refresh_keeps_unflushed_charges() -> None:
    book = book_with(100)
    book.settle(book.reserve(1, 10), 10, entry())
    # A top-up of 50 made elsewhere: the database now says 150 (it has not seen our charge yet).
    book.refresh(
        AccountRow(id=1, name="a", balance=150, low_balance_threshold=0, updated_at=datetime.now(UTC))
    )
    assert book.accounts[1].balance == 140


def test_failed_flush_requeues_in_order() -> None:
    book = book_with(100)
    book.settle(book.reserve(1, 1), 1, entry())
    first = book.take_pending()
    book.settle(book.reserve(1, 2), 2, entry())
    book.requeue(first)
    assert [e.amount for e in book.take_pending()] == [-1, -2]
