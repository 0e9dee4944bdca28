"""What AI searches found (schema v6), on SQLite and PostgreSQL: the step that adds the table to
an older database, and the rows the follow-up routes read."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, inspect, select

from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.timestamps import now


def test_a_version_3_database_gains_the_search_results_table(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        schema.search_results.drop(conn)
        conn.execute(delete(schema.schema_version))
        conn.execute(insert(schema.schema_version).values(version=3, applied_at=now()))
    assert not inspect(db.engine).has_table("search_results")
    assert db.upgrade() == schema.SCHEMA_VERSION
    assert db.upgrade() == schema.SCHEMA_VERSION  # a second run changes nothing
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.max(schema.schema_version.c.version))) == schema.SCHEMA_VERSION
    assert inspect(db.engine).has_table("search_results")
    db.close()


def test_a_search_is_kept_for_its_account(db: Database) -> None:
    account = db.create_account("team", low_balance_threshold=0, origin="t")
    db.save_search(
        search_id="s-1", account_id=account.id, model="m", query="q\x00uery", results='{"links": []}'
    )
    found = db.stored_search("s-1")
    assert found is not None
    assert (found.account_id, found.model, found.query, found.results) == (
        account.id,
        "m",
        "query",
        '{"links": []}',
    )
    assert db.stored_search("s-2") is None
    assert db.stored_search("s\x00") is None
