"""The file_search index (schema v9) on SQLite and PostgreSQL: the step that adds its tables, the
claim that lets one search index a file, and what a deleted or expired upload leaves (nothing)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import delete, inspect, select

from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.knowledge import Claim
from omnigate.store.timestamps import now
from tests.store.test_uploads import upload

MODEL = "local/all-minilm-l6-v2"
CHUNKS = [("first chunk", b"\x00\x00\x80\x3f"), ("second chunk", b"\x00\x00\x00\x00")]


def claim(
    db: Database, owner: str, *, file_id: str = "file-1", model: str = MODEL, lease_s: float = 60
) -> Claim:
    return db.claim_file_index(file_id, model=model, owner=owner, lease_s=lease_s)


@pytest.fixture
def account_id(db: Database) -> Iterator[int]:
    """An account holding the uploads file-1 and file-2."""
    account = db.create_account("team", low_balance_threshold=0, origin="t")
    upload(db, account.id, "file-1")
    upload(db, account.id, "file-2")
    yield account.id


def chunk_rows(db: Database) -> list:
    with db.engine.connect() as conn:
        return conn.execute(select(schema.file_chunks.c.file_id, schema.file_chunks.c.idx)).all()


def test_a_version_6_database_gains_the_index_tables(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:  # as release 6 left it
        schema.file_chunks.drop(conn)
        schema.file_indexes.drop(conn)
        conn.execute(delete(schema.schema_version))
        conn.execute(schema.schema_version.insert().values(version=6, applied_at=now()))
    assert not inspect(db.engine).has_table("file_indexes")
    assert db.upgrade() == schema.SCHEMA_VERSION
    assert db.upgrade() == schema.SCHEMA_VERSION  # a second run changes nothing
    assert {"file_indexes", "file_chunks"} <= set(inspect(db.engine).get_table_names())
    account = db.create_account("team", low_balance_threshold=0, origin="t")
    upload(db, account.id, "file-1")
    assert claim(db, "a") is Claim.CLAIMED
    db.close()


@pytest.mark.usefixtures("account_id")
def test_one_search_indexes_a_file_and_the_others_wait_then_read_it(db: Database) -> None:
    assert claim(db, "a") is Claim.CLAIMED
    assert claim(db, "b") is Claim.BUSY
    assert db.indexed_chunks(["file-1"], MODEL) == []  # nothing is read before it is ready
    assert db.finish_file_index("file-1", "a", CHUNKS)
    assert claim(db, "b") is Claim.READY
    found = db.indexed_chunks(["file-1", "file-2"], MODEL)
    assert [(c.file_id, c.idx, c.text, c.vector) for c in found] == [
        ("file-1", 0, "first chunk", CHUNKS[0][1]),
        ("file-1", 1, "second chunk", CHUNKS[1][1]),
    ]


@pytest.mark.usefixtures("account_id")
def test_of_many_searches_claiming_at_once_exactly_one_indexes(db: Database) -> None:
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda i: claim(db, f"owner-{i}"), range(8)))
    assert claims.count(Claim.CLAIMED) == 1
    assert claims.count(Claim.BUSY) == 7


@pytest.mark.usefixtures("account_id")
def test_a_lapsed_lease_is_taken_over_and_its_first_holder_stores_nothing(db: Database) -> None:
    assert claim(db, "a", lease_s=0.01) is Claim.CLAIMED
    assert not db.renew_file_claim("file-1", "b", 60)
    time.sleep(0.05)
    assert claim(db, "b") is Claim.CLAIMED
    assert not db.renew_file_claim("file-1", "a", 60)
    assert not db.finish_file_index("file-1", "a", CHUNKS)
    assert db.finish_file_index("file-1", "b", CHUNKS[:1])
    assert [c.text for c in db.indexed_chunks(["file-1"], MODEL)] == ["first chunk"]


@pytest.mark.usefixtures("account_id")
def test_a_dropped_claim_lets_the_next_search_index_at_once(db: Database) -> None:
    assert claim(db, "a") is Claim.CLAIMED
    db.drop_file_claim("file-1", "b")  # not its claim: nothing changes
    assert claim(db, "c") is Claim.BUSY
    db.drop_file_claim("file-1", "a")
    assert claim(db, "c") is Claim.CLAIMED


@pytest.mark.usefixtures("account_id")
def test_an_index_of_another_model_is_rebuilt_and_its_chunks_replaced(db: Database) -> None:
    assert claim(db, "a", model="old-model") is Claim.CLAIMED
    assert db.finish_file_index("file-1", "a", CHUNKS)
    assert claim(db, "b") is Claim.CLAIMED
    assert db.indexed_chunks(["file-1"], "old-model") == []  # being rebuilt: not read as it was
    assert db.finish_file_index("file-1", "b", [("rebuilt", b"\x00\x00\x80\x3f")])
    assert [c.text for c in db.indexed_chunks(["file-1"], MODEL)] == ["rebuilt"]


def test_a_deleted_or_expired_upload_takes_its_index_along(db: Database, account_id: int) -> None:
    assert claim(db, "a") is Claim.CLAIMED
    assert db.finish_file_index("file-1", "a", CHUNKS)
    assert claim(db, "b", file_id="file-2") is Claim.CLAIMED
    assert db.delete_upload("file-1", account_id)
    assert db.delete_upload("file-2", account_id)
    assert not db.finish_file_index("file-2", "b", CHUNKS)  # its indexer stores nothing
    assert db.indexed_chunks(["file-1", "file-2"], MODEL) == []
    assert chunk_rows(db) == []
    assert claim(db, "c") is Claim.GONE  # nor can it be indexed again
    assert claim(db, "c", file_id="file-never") is Claim.GONE

    upload(db, account_id, "file-3", expires_at=now() + timedelta(seconds=0.05))
    assert claim(db, "a", file_id="file-3") is Claim.CLAIMED
    assert db.finish_file_index("file-3", "a", CHUNKS)
    time.sleep(0.1)
    upload(db, account_id, "file-4")  # each upload sweeps the expired ones away
    assert chunk_rows(db) == []
