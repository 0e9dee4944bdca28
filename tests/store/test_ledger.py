"""The ledger and the new columns against real databases: SQLite always, PostgreSQL when running."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    text,
    update,
)

from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.rows import LedgerEntry, Limits


def charge(entry_id: str, account_id: int, credits: int, **fields) -> LedgerEntry:
    return LedgerEntry(entry_id=entry_id, account_id=account_id, amount=-credits, kind="charge", **fields)


def test_an_entry_written_twice_is_one_row(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    db.top_up("acme", 1000, origin="t")
    batch = [charge("w1-1", account.id, 10), charge("w1-2", account.id, 20)]
    assert db.write_ledger(batch, origin="t").deltas == {account.id: -30}
    # A retry after a lost acknowledgement, or a replayed outbox: nothing more happens.
    again = db.write_ledger([*batch, charge("w1-3", account.id, 5)], origin="t")
    assert again.deltas == {account.id: -5} and not again.rejected
    assert db.account(account.id).balance == 965 == db.ledger_sum(account.id)
    assert len(db.ledger_entries(account.id)) == 4


def test_a_top_up_with_a_used_entry_id_is_not_applied_again(db: Database) -> None:
    db.create_account("acme", low_balance_threshold=0, origin="t")
    row, applied = db.top_up("acme", 500, origin="t", entry_id="topup-1-retry")
    assert applied and row.balance == 500
    row, applied = db.top_up("acme", 500, origin="t", entry_id="topup-1-retry")
    assert not applied and row.balance == 500


def test_the_longest_client_request_id_is_stored(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    request_id = "r" * schema.REQUEST_ID_MAX
    written = db.write_ledger([charge("w-1", account.id, 1, request_id=request_id)], origin="t")
    assert not written.rejected
    assert db.ledger_entries(account.id)[0].request_id == request_id


def test_a_refused_row_is_set_aside_and_the_rest_is_written(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    db.top_up("acme", 100, origin="t")
    # No such account: the foreign key refuses this row on both databases.
    bad = charge("w-bad", 999_999, 1)
    written = db.write_ledger([charge("w-1", account.id, 3), bad, charge("w-2", account.id, 4)], origin="t")
    assert written.rejected == [bad]
    assert written.deltas == {account.id: -7}
    assert db.account(account.id).balance == 93 == db.ledger_sum(account.id)
    # The next batch is not held back by the refused one.
    assert db.write_ledger([charge("w-3", account.id, 1)], origin="t").deltas == {account.id: -1}


def test_spending_is_summed_per_key_and_period(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    db.top_up("acme", 1000, origin="t")
    old = datetime.now(UTC) - timedelta(days=40)
    db.write_ledger(
        [
            charge("s-1", account.id, 10, key_prefix="og-a", created_at=old),
            charge("s-2", account.id, 20, key_prefix="og-a"),
            charge("s-3", account.id, 40, key_prefix="og-b"),
        ],
        origin="t",
    )
    since = datetime.now(UTC) - timedelta(days=1)
    assert db.spent_since(since, key_prefix="og-a") == 20
    assert db.spent_since(since, account_id=account.id) == 60
    assert db.spent_by_key(since) == {"og-a": 20, "og-b": 40}


def test_limits_and_scopes_are_stored_changed_and_deleted_with_the_key(db: Database) -> None:
    limits = Limits(rpm=60, tpm=1000, concurrency=2, budget=5000, budget_period="day")
    account = db.create_account("acme", low_balance_threshold=0, origin="t", limits=Limits(rpm=600))
    assert db.account(account.id).limits == Limits(rpm=600)
    _, key = db.create_key("acme", admin=False, origin="t", limits=limits, scopes=("model:chat",))
    assert (key.limits, key.scopes) == (limits, ("model:chat",))
    changed = db.update_key(key.prefix, origin="t", limits=Limits(rpm=1), scopes=())
    assert (changed.limits, changed.scopes, changed.name) == (Limits(rpm=1), (), key.name)
    assert db.key_by_hash(key.key_hash) == changed
    db.delete_key(key.prefix, origin="t")
    assert db.key_by_hash(key.key_hash) is None


def test_the_change_feed_is_pruned_and_says_when_a_reader_fell_behind(db: Database) -> None:
    db.create_account("acme", low_balance_threshold=0, origin="t")
    for _ in range(3):
        db.top_up("acme", 1, origin="t")
    newest = db.last_change_id()
    with db.engine.begin() as conn:
        conn.execute(update(schema.changes).values(created_at=datetime.now(UTC) - timedelta(hours=1)))
    assert db.prune_changes() == newest - 1
    assert db.last_change_id() == newest  # the newest row stays: ids keep growing
    _, complete = db.changes_since(0, skip_origin="x")
    assert not complete
    changes, complete = db.changes_since(newest - 1, skip_origin="x")
    assert complete and [c.id for c in changes] == [newest]


def _version_1_tables() -> MetaData:
    """The schema as release 1 created it (the columns that version 2 changes or adds, left out)."""
    meta = MetaData()
    Table(
        "schema_version",
        meta,
        Column("version", Integer, primary_key=True),
        Column("applied_at", DateTime(True)),
    )
    Table(
        "accounts",
        meta,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("balance", BigInteger, nullable=False),
        Column("low_balance_threshold", BigInteger, nullable=False),
        Column("created_at", DateTime(True), nullable=False),
        Column("updated_at", DateTime(True), nullable=False),
    )
    Table(
        "api_keys",
        meta,
        Column("id", Integer, primary_key=True),
        Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
        Column("prefix", String(32), nullable=False, unique=True),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("name", String(200), nullable=False),
        Column("admin", Boolean, nullable=False),
        Column("disabled", Boolean, nullable=False),
        Column("created_at", DateTime(True), nullable=False),
    )
    Table(
        "ledger",
        meta,
        Column("id", Integer, primary_key=True),
        Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("key_prefix", String(32)),
        Column("model", String(200)),
        Column("request_id", String(64)),
        Column("prompt_tokens", Integer),
        Column("completion_tokens", Integer),
        Column("note", Text),
        Column("created_at", DateTime(True), nullable=False),
    )
    return meta


def test_a_version_1_database_is_migrated_with_its_rows(url: str) -> None:
    engine = create_engine(Database(url).url)
    with contextlib.closing(engine.connect()) as conn, conn.begin():
        _version_1_tables().create_all(conn)
        stamp = datetime.now(UTC)
        conn.execute(text("insert into schema_version values (1, :t)"), {"t": stamp})
        conn.execute(
            insert(_version_1_tables().tables["accounts"]).values(
                id=1, name="old", balance=70, low_balance_threshold=0, created_at=stamp, updated_at=stamp
            )
        )
        conn.execute(
            text("insert into ledger (account_id, amount, kind, created_at) values (1, 70, 'topup', :t)"),
            {"t": stamp},
        )
    engine.dispose()
    db = Database(url)
    assert db.upgrade() == schema.SCHEMA_VERSION
    assert db.upgrade() == schema.SCHEMA_VERSION  # a second run changes nothing
    written = db.write_ledger([charge("m-1", 1, 20, request_id="x" * 100)], origin="t")
    assert written.deltas == {1: -20}
    assert db.account(1).balance == 50 == db.ledger_sum(1)
    assert db.account(1).limits == Limits()
    db.close()
