"""Property tests of both credit books, with the sync loop, the outbox and a real SQLite ledger.

Hypothesis drives random interleavings of reserve, settle, release, cancel (a client that left:
billed for part), top-up, flush, and flushes that fail before the commit or after it (the
acknowledgement lost). Whatever the order, these must hold:
- no account's balance goes below zero, and no reservation is granted beyond what is available;
- every settled request is exactly one ledger row (a retried flush never doubles one);
- the ledger's sum equals the database balance, and the book shows the same balance.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from sqlalchemy.exc import OperationalError

from omnigate.billing.book import CreditBook, InsufficientCredits, Reservation, Usage
from omnigate.billing.outbox import Outbox
from omnigate.billing.redis_book import RedisCreditBook
from omnigate.http.auth import KeyCache
from omnigate.store.db import Database
from omnigate.store.ledger import LedgerWrite
from omnigate.store.rows import LedgerEntry
from omnigate.sync import StateSync
from tests.services import REDIS_URL, redis_missing, redis_prefix

ACCOUNTS = ("a", "b")


class FlakyDatabase(Database):
    """A real database whose next ledger write can fail before its commit, or after it (the
    commit happened, the acknowledgement is lost)."""

    fail_next: str | None = None

    def write_ledger(self, entries: list[LedgerEntry], *, origin: str) -> LedgerWrite:  # type: ignore[override]
        mode, self.fail_next = self.fail_next, None
        if mode == "before":
            raise OperationalError("insert", None, ConnectionError("injected: connection lost"))
        written = super().write_ledger(entries, origin=origin)
        if mode == "after":
            raise OperationalError("commit", None, ConnectionError("injected: acknowledgement lost"))
        return written


class BookMachine(RuleBasedStateMachine):
    kind = "memory"
    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="omnigate-props-"))
        self.db = FlakyDatabase(f"sqlite:///{self.folder / 'ledger.db'}")
        self.db.upgrade()
        self.ids = {}
        for name in ACCOUNTS:
            row = self.db.create_account(name, low_balance_threshold=0, origin="t")
            self.db.top_up(name, 1000, origin="t")
            self.ids[name] = row.id
        self.keys = {name: self.db.create_key(name, admin=False, origin="t")[1] for name in ACCOUNTS}
        origin = uuid.uuid4().hex[:12]
        outbox = Outbox(self.folder / "outbox", origin)
        self.prefix_scope = redis_prefix()
        if self.kind == "redis":
            self.book: CreditBook | RedisCreditBook = RedisCreditBook(
                REDIS_URL, self.prefix_scope.__enter__(), origin, outbox
            )
        else:
            self.book = CreditBook(origin, outbox)
        self.sync = StateSync(
            self.db, self.book, KeyCache(), outbox, flush_interval_s=3600, poll_interval_s=3600
        )
        self.run(self.book.start())
        self.run(self.sync.start())
        self.settled = 0
        self.charged = dict.fromkeys(ACCOUNTS, 0)
        self.topped = dict.fromkeys(ACCOUNTS, 1000)

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    @rule(target=reservations, account=st.sampled_from(ACCOUNTS), amount=st.integers(0, 600))
    def reserve(self, account: str, amount: int):
        try:
            return self.run(self.book.reserve(self.keys[account], amount))
        except InsufficientCredits as refused:
            assert refused.available < amount
            return None

    @rule(reservation=consumes(reservations), fraction=st.sampled_from([0.0, 0.5, 1.0, 1.5]))
    def settle(self, reservation: Reservation | None, fraction: float) -> None:
        """A cost at, below or (an upstream reporting more than allowed) above what was held;
        fraction 0.5 is also what a client that left mid-stream is billed."""
        if reservation is None:
            return
        name = next(n for n, i in self.ids.items() if i == reservation.account_id)
        usage = Usage(self.keys[name].prefix, "m", f"r-{self.settled}", 1, 1)
        charged = self.run(self.book.settle(reservation, int(reservation.amount * fraction), usage))
        assert 0 <= charged <= int(reservation.amount * fraction)
        self.settled += 1
        self.charged[name] += charged

    @rule(reservation=consumes(reservations))
    def release(self, reservation: Reservation | None) -> None:
        if reservation is not None:
            self.run(self.book.release(reservation))

    @rule(account=st.sampled_from(ACCOUNTS), credits=st.integers(1, 500))
    def top_up(self, account: str, credits: int) -> None:
        row, applied = self.db.top_up(account, credits, origin=self.sync.origin)
        assert applied
        self.run(self.book.topped_up(row, credits))
        self.run(self.sync.refresh_account(row.id))
        self.topped[account] += credits

    @rule(failure=st.sampled_from([None, "before", "after"]))
    def flush(self, failure: str | None) -> None:
        self.run(self.book.drain())
        self.db.fail_next = failure
        try:
            self.run(self.sync.flush())
        except OperationalError:
            assert failure is not None
        self.db.fail_next = None  # unused when there was nothing to write

    @invariant()
    def balances_never_go_below_zero(self) -> None:
        for name, account_id in self.ids.items():
            view = self.run(self.book.view(account_id))
            assert view.balance >= 0, name
            assert view.balance == self.topped[name] - self.charged[name]

    def teardown(self) -> None:
        try:
            self.run(self.book.drain())
            self.run(self.sync.flush())
            for name, account_id in self.ids.items():
                rows = [e for e in self.db.ledger_entries(account_id) if e.kind == "charge"]
                assert len({e.entry_id for e in rows}) == len(rows)
                assert -sum(e.amount for e in rows) == self.charged[name]
                balance = self.db.account(account_id).balance
                assert balance == self.db.ledger_sum(account_id) == self.topped[name] - self.charged[name]
                assert self.run(self.book.view(account_id)).balance == balance
            charges = sum(
                len([e for e in self.db.ledger_entries(i) if e.kind == "charge"]) for i in self.ids.values()
            )
            assert charges == self.settled
            self.run(self.sync.stop())
            # Every charge reached the database: the outbox kept nothing behind.
            assert not list((self.folder / "outbox").glob("*.jsonl"))
        finally:
            self.run(self.book.close())
            self.db.close()
            self.loop.close()
            if self.kind == "redis":
                self.prefix_scope.__exit__(None, None, None)
            shutil.rmtree(self.folder, ignore_errors=True)


class RedisBookMachine(BookMachine):
    kind = "redis"


_SETTINGS = settings(
    max_examples=25, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck)
)
TestMemoryBook = BookMachine.TestCase
TestMemoryBook.settings = _SETTINGS

_NO_REDIS = redis_missing()
TestRedisBook = pytest.mark.skipif(_NO_REDIS is not None, reason=_NO_REDIS or "")(RedisBookMachine.TestCase)
TestRedisBook.settings = _SETTINGS
