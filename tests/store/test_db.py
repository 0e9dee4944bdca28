"""The store against real databases: SQLite always, PostgreSQL when one is running."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from omnigate.store.db import Database, LedgerEntry, StoreError
from omnigate.store.keys import hash_key

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_available() -> str | None:
    try:
        engine = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/test", connect_args={"connect_timeout": 2}
        )
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return f"PostgreSQL at 127.0.0.1:5432/test is not reachable ({type(exc).__name__})"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    else:
        reason = _postgres_available()
        if reason:
            pytest.skip(reason)
        # A schema of its own per test keeps runs independent without dropping shared tables.
        schema = f"t_{uuid.uuid4().hex[:10]}"
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with admin.begin() as conn:
            conn.execute(text(f"create schema {schema}"))
        database = Database(POSTGRES_URL + f"?options=-csearch_path%3D{schema}")
    database.upgrade()
    yield database
    database.close()
    if request.param == "postgresql":
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


def test_balance_always_equals_the_ledger_sum(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=10, origin="t")
    db.top_up("acme", 1000, origin="t")
    db.write_ledger(
        [
            LedgerEntry(
                account_id=account.id,
                amount=-30,
                kind="charge",
                model="m",
                prompt_tokens=3,
                completion_tokens=4,
            ),
            LedgerEntry(account_id=account.id, amount=-70, kind="charge"),
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
    changes = db.changes_since(start, skip_origin="me")
    assert [(c.kind) for c in changes] == ["account"]


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
