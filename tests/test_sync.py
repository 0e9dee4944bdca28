"""The sync loop against a real SQLite ledger: admin reads and flushes never count credits twice."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from omnigate.billing.book import CreditBook
from omnigate.billing.outbox import Outbox
from omnigate.http.auth import KeyCache
from omnigate.store.db import Database
from omnigate.store.ledger import LedgerWrite
from omnigate.store.rows import LedgerEntry
from omnigate.sync import StateSync
from tests.billing.books import usage


class SlowDatabase(Database):
    """Holds each ledger write open after its commit until the test lets it go: the moment a
    concurrent read sees the committed rows while the book still counts them as pending."""

    committed = threading.Event()
    go_on = threading.Event()

    def write_ledger(self, entries: Sequence[LedgerEntry], *, origin: str) -> LedgerWrite:
        written = super().write_ledger(entries, origin=origin)
        if origin == "me":  # the sync loop's flushes, not the admin's top-ups
            self.committed.set()
            self.go_on.wait(timeout=10)
        return written


@pytest.fixture
async def synced(tmp_path: Path) -> AsyncIterator[tuple[SlowDatabase, CreditBook, StateSync]]:
    db = SlowDatabase(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.upgrade()
    db.create_account("team", low_balance_threshold=0, origin="t")
    db.top_up("team", 1000, origin="t")
    db.create_key("team", admin=False, origin="t")
    outbox = Outbox(tmp_path / "outbox", "me")
    book = CreditBook("me", outbox)
    sync = StateSync(db, book, KeyCache(), outbox, flush_interval_s=3600, poll_interval_s=3600)
    await sync.start()
    yield db, book, sync
    SlowDatabase.go_on.set()
    await sync.stop()
    db.close()


async def test_a_top_up_read_during_a_flush_does_not_count_the_flushed_charge_twice(synced) -> None:
    db, book, sync = synced
    account = db.account("team")
    [key] = db.list_keys()
    await book.settle(await book.reserve(key, 100), 100, usage())
    SlowDatabase.committed.clear()
    SlowDatabase.go_on.clear()
    flushing = asyncio.create_task(sync.flush())
    await asyncio.to_thread(SlowDatabase.committed.wait, 10)
    # The charge is in the database; the flush has not told the book yet. An admin tops up.
    row, _ = await asyncio.to_thread(db.top_up, "team", 50, origin="admin")
    refreshing = asyncio.create_task(sync.refresh_account(row.id))
    await asyncio.sleep(0.05)
    SlowDatabase.go_on.set()
    await asyncio.gather(flushing, refreshing)
    assert (await book.view(account.id)).balance == db.account(account.id).balance == 950
