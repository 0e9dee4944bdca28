"""The Assistants API's tables (schema v8), on SQLite and PostgreSQL: the step that adds them to
an older database, paging, one active run per thread, and the leases runners take on runs."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, inspect, select

from omnigate.store import schema
from omnigate.store.assistants import Page, ThreadBusy
from omnigate.store.db import Database
from omnigate.store.timestamps import now


def test_a_version_6_database_gains_the_assistants_tables(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        schema.assistant_runs.drop(conn)
        schema.assistant_objects.drop(conn)
        conn.execute(delete(schema.schema_version))
        conn.execute(insert(schema.schema_version).values(version=6, applied_at=now()))
    assert not inspect(db.engine).has_table("assistant_runs")
    assert db.upgrade() == schema.SCHEMA_VERSION >= 8
    assert db.upgrade() == schema.SCHEMA_VERSION  # a second run changes nothing
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.max(schema.schema_version.c.version))) == schema.SCHEMA_VERSION
    assert {"assistant_objects", "assistant_runs"} <= set(inspect(db.engine).get_table_names())
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("assistant_runs")}
    assert "ux_assistant_runs_active" in indexes
    db.close()


def run(run_id: str, thread_id: str) -> dict:
    return {"id": run_id, "object": "thread.run", "thread_id": thread_id, "status": "queued"}


def test_objects_page_and_stay_with_their_account(db: Database) -> None:
    mine = db.create_account("mine", low_balance_threshold=0, origin="t")
    other = db.create_account("other", low_balance_threshold=0, origin="t")
    for n in range(5):
        db.save_object("assistant", {"id": f"asst_{n}"}, mine.id)
    db.save_object("assistant", {"id": "asst_other"}, other.id)
    ids = lambda rows: [r["id"] for r in rows]  # noqa: E731
    data, more = db.list_objects("assistant", mine.id, Page(limit=2))
    assert ids(data) == ["asst_4", "asst_3"] and more
    data, more = db.list_objects("assistant", mine.id, Page(limit=2, order="asc", after="asst_1"))
    assert ids(data) == ["asst_2", "asst_3"] and more
    data, more = db.list_objects("assistant", mine.id, Page(order="desc", before="asst_2"))
    assert ids(data) == ["asst_4", "asst_3"] and not more
    assert db.get_object("assistant", "asst_other", mine.id) is None
    assert not db.delete_object("assistant", "asst_other", mine.id)
    assert db.get_object("assistant", "asst_other", other.id) == {"id": "asst_other"}


def test_one_active_run_per_thread_and_leases(db: Database) -> None:
    account = db.create_account("team", low_balance_threshold=0, origin="t")
    db.insert_run(
        run("run_1", "thread_1"), account_id=account.id, key_prefix="k", state={}, owner=None, lease_s=5
    )
    with pytest.raises(ThreadBusy):
        db.insert_run(
            run("run_2", "thread_1"), account_id=account.id, key_prefix="k", state={}, owner=None, lease_s=5
        )
    claimed = db.claim_runs("a", limit=5, lease_s=30)
    assert [r.id for r in claimed] == ["run_1"]
    assert db.claim_runs("b", limit=5, lease_s=30) == []  # held by a
    assert db.renew_run_lease("run_1", "b", 30) is None
    assert db.renew_run_lease("run_1", "a", 30) == "queued"
    body = {**claimed[0].body, "status": "in_progress"}
    assert not db.write_run("run_1", "b", body=body, state={})
    assert db.write_run("run_1", "a", body=body, state={"calls": 1})
    # A client cancels: the runner's next write that does not end the run is refused.
    assert db.cancel_run("run_1", account.id).status == "cancelling"
    assert db.renew_run_lease("run_1", "a", 30) == "cancelling"
    assert not db.write_run("run_1", "a", body=body, state={})
    assert db.write_run("run_1", "a", body={**body, "status": "cancelled"}, state={})
    assert db.run("run_1").status == "cancelled" and db.active_run("thread_1") is None
    # The thread is free: a second run may start.
    db.insert_run(
        run("run_2", "thread_1"), account_id=account.id, key_prefix="k", state={}, owner="a", lease_s=30
    )
    assert db.claim_runs("b", limit=5, lease_s=30) == []  # a streamed run: leased at once
    db.release_run_leases("a")
    assert [r.id for r in db.claim_runs("b", limit=5, lease_s=30)] == ["run_2"]
