"""The store against real databases: SQLite always, PostgreSQL when one is running."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from omnigate.store.db import Database, StoreError
from omnigate.store.keys import hash_key
from omnigate.store.rows import LedgerEntry
from tests.services import postgres_missing, postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'test.db'}"
        else:
            reason = postgres_missing()
            if reason:
                pytest.skip(reason)
            url = stack.enter_context(postgres_schema())
        database = Database(url)
        database.upgrade()
        yield database
        database.close()


def test_balance_always_equals_the_ledger_sum(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=10, origin="t")
    db.top_up("acme", 1000, origin="t")
    db.write_ledger(
        [
            LedgerEntry(
                entry_id="e1",
                account_id=account.id,
                amount=-30,
                kind="charge",
                model="m",
                prompt_tokens=3,
                completion_tokens=4,
            ),
            LedgerEntry(entry_id="e2", account_id=account.id, amount=-70, kind="charge"),
        ],
        origin="t",
    )
    assert db.account("acme").balance == 900 == db.ledger_sum(account.id)
    assert [e.kind for e in db.ledger_entries(account.id)] == ["topup", "charge", "charge"]


def test_keys_are_stored_hashed(db: Database) -> None:
    db.create_account("acme", low_balance_threshold=0, origin="t")
    key, row = db.create_key("acme", admin=True, name="ci", origin="t")
    assert key.startswith("og-") and len(key) > 40
    assert row.key_hash == hash_key(key) and key not in row.key_hash
    assert row.prefix == key[:12] and row.admin
    with db.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(text("select * from api_keys"))]
    assert not any(key in str(value) for value in stored[0])


def test_change_feed_reports_other_origins_only(db: Database) -> None:
    start = db.last_change_id()
    db.create_account("acme", low_balance_threshold=0, origin="me")
    db.top_up("acme", 5, origin="cli")
    changes, complete = db.changes_since(start, skip_origin="me")
    assert [(c.kind) for c in changes] == ["account"] and complete


def test_refusals(db: Database) -> None:
    db.create_account("acme", low_balance_threshold=0, origin="t")
    with pytest.raises(StoreError, match="already exists"):
        db.create_account("acme", low_balance_threshold=0, origin="t")
    with pytest.raises(StoreError, match="does not exist"):
        db.top_up("nobody", 5, origin="t")
    with pytest.raises(StoreError, match="no key"):
        db.set_key_disabled("og-missing", True, origin="t")
    with pytest.raises(StoreError):
        db.top_up("acme", 0, origin="t")
