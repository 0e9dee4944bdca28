"""Message batches in the database: leases on their requests, an end that charges once, cancel,
expiry, and the v5 migration. SQLite always, PostgreSQL when it runs."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import delete, inspect

from omnigate.store import schema
from omnigate.store.batches import ACTIVE, charge_entry_id
from omnigate.store.db import Database
from omnigate.store.rows import LedgerEntry
from omnigate.store.timestamps import now


def funded(db: Database) -> int:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    db.top_up("acme", 1000, origin="t")
    return account.id


def new_batch(db: Database, account_id: int, size: int = 3, *, expires_in_s: float = 3600.0) -> str:
    batch_id = f"msgbatch_test{size}"
    db.insert_batch(
        batch_id=batch_id,
        account_id=account_id,
        key_prefix="og-test",
        request_id="req-1",
        expires_at=now() + timedelta(seconds=expires_in_s),
        requests=[(f"r{n}", '{"model": "gpt-4o"}') for n in range(size)],
    )
    return batch_id


def charge(batch_id: str, idx: int, account_id: int, credits: int) -> LedgerEntry:
    return LedgerEntry(
        entry_id=charge_entry_id(batch_id, idx), account_id=account_id, amount=-credits, kind="charge"
    )


def test_a_request_is_claimed_by_one_runner_until_its_lease_ends(db: Database) -> None:
    batch_id = new_batch(db, funded(db))
    first = db.claim_batch_entries("a", limit=2, lease_s=0.3, settle_after_s=60)
    assert [(e.batch_id, e.idx, e.custom_id) for e in first] == [(batch_id, 0, "r0"), (batch_id, 1, "r1")]
    second = db.claim_batch_entries("b", limit=10, lease_s=60, settle_after_s=60)
    assert [e.idx for e in second] == [2]
    assert db.claim_batch_entries("b", limit=10, lease_s=60, settle_after_s=60) == []
    time.sleep(0.4)
    taken_over = db.claim_batch_entries("b", limit=10, lease_s=60, settle_after_s=60)
    assert sorted(e.idx for e in taken_over) == [0, 1]
    # The first runner lost them: its writes change nothing.
    assert not db.end_entry(first[0], "a", status="succeeded")


def test_the_charge_is_written_once_and_the_last_request_ends_the_batch(db: Database) -> None:
    account_id = funded(db)
    batch_id = new_batch(db, account_id, size=2)
    one, two = db.claim_batch_entries("a", limit=2, lease_s=60, settle_after_s=60)
    assert db.entry_answered(
        one, "a", result='{"type":"succeeded"}', cost=30, model="gpt-4o", prompt_tokens=5, completion_tokens=5
    )
    assert db.end_entry(one, "a", status="succeeded", charge=charge(batch_id, 0, account_id, 30), origin="t")
    assert not db.end_entry(
        one, "a", status="succeeded", charge=charge(batch_id, 0, account_id, 30), origin="t"
    )
    assert db.batch(batch_id).status == "in_progress"
    assert db.end_entry(two, "a", status="errored", result='{"type":"errored"}')
    batch = db.batch(batch_id)
    assert batch.status == "ended" and batch.ended_at is not None
    assert batch.counts == {"succeeded": 1, "errored": 1}
    assert db.ledger_amount(charge_entry_id(batch_id, 0)) == -30
    assert db.account(account_id).balance == 970 == db.ledger_sum(account_id)
    assert db.batch_results(batch_id) == [("r0", '{"type":"succeeded"}'), ("r1", '{"type":"errored"}')]


def test_cancel_ends_the_queued_requests_and_lets_running_ones_finish(db: Database) -> None:
    batch_id = new_batch(db, funded(db))
    (running,) = db.claim_batch_entries("a", limit=1, lease_s=60, settle_after_s=60)
    batch = db.cancel_batch(batch_id)
    assert batch.status == "canceling" and batch.cancel_initiated_at is not None
    assert batch.counts == {"queued": 1, "canceled": 2}
    assert db.claim_batch_entries("b", limit=10, lease_s=60, settle_after_s=60) == []
    assert db.end_entry(running, "a", status="succeeded", result='{"type":"succeeded"}')
    assert db.batch(batch_id).status == "ended"
    assert db.cancel_batch(batch_id).status == "ended"  # nothing moves any more


def test_an_answered_request_is_taken_over_only_after_its_charge_could_reach_the_ledger(db: Database) -> None:
    batch_id = new_batch(db, funded(db), size=1)
    (entry,) = db.claim_batch_entries("a", limit=1, lease_s=0.2, settle_after_s=60)
    assert db.entry_answered(entry, "a", result="{}", cost=7, model="m", prompt_tokens=1, completion_tokens=1)
    time.sleep(0.3)  # the runner is gone: its lease ran out
    assert db.claim_batch_entries("b", limit=1, lease_s=60, settle_after_s=60) == []
    (again,) = db.claim_batch_entries("b", limit=1, lease_s=60, settle_after_s=0)
    assert (again.batch_id, again.status, again.cost) == (batch_id, "answered", 7)


def test_requests_left_at_expiry_end_expired(db: Database) -> None:
    batch_id = new_batch(db, funded(db), size=2, expires_in_s=0.0)
    assert db.sweep_batches() == 1
    batch = db.batch(batch_id)
    assert batch.status == "ended" and batch.counts == {"expired": 2}
    assert all(status not in ACTIVE for status in batch.counts)


def test_a_v3_database_gains_the_batch_tables(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:  # as release 3 left it
        schema.batch_entries.drop(conn)
        schema.batches.drop(conn)
        conn.execute(delete(schema.schema_version))
        conn.execute(schema.schema_version.insert().values(version=3, applied_at=now()))
    assert not inspect(db.engine).has_table("batches")
    assert db.upgrade() == schema.SCHEMA_VERSION
    assert {"batches", "batch_entries"} <= set(inspect(db.engine).get_table_names())
    new_batch(db, funded(db))
    db.close()
