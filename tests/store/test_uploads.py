"""Uploaded files (schema v7), on SQLite and PostgreSQL: the step that adds their tables to an
older database, and what each account may see of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, inspect

from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.timestamps import now
from omnigate.store.uploads import UploadRow


def upload(db: Database, account_id: int, file_id: str, *, content: bytes = b"hello", **kw) -> UploadRow:
    row = UploadRow(
        id=file_id,
        account_id=account_id,
        filename=kw.pop("filename", f"{file_id}.txt"),
        purpose=kw.pop("purpose", "assistants"),
        bytes=len(content),
        content_type="text/plain",
        created_at=kw.pop("created_at", now()),
        **kw,
    )
    db.save_upload(row, content)
    return row


def test_a_version_6_database_gains_the_upload_tables(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        schema.file_chunks.drop(conn)  # v9 (file_search): hangs off the uploads
        schema.file_indexes.drop(conn)
        schema.upload_contents.drop(conn)
        schema.uploads.drop(conn)
        conn.execute(delete(schema.schema_version))
        conn.execute(insert(schema.schema_version).values(version=6, applied_at=now()))
    assert not inspect(db.engine).has_table("uploads")
    assert db.upgrade() == schema.SCHEMA_VERSION
    assert db.upgrade() == schema.SCHEMA_VERSION  # a second run changes nothing
    assert inspect(db.engine).has_table("uploads") and inspect(db.engine).has_table("upload_contents")
    db.close()


def test_a_file_is_its_accounts_only(db: Database) -> None:
    mine = db.create_account("mine", low_balance_threshold=0, origin="t")
    theirs = db.create_account("theirs", low_balance_threshold=0, origin="t")
    row = upload(db, mine.id, "file-a", content=b"\x00\x01binary", filename="r\x00.bin")
    assert db.upload("file-a", mine.id) == UploadRow(
        "file-a", mine.id, "r.bin", "assistants", 8, "text/plain", row.created_at
    )
    assert db.upload_content("file-a") == b"\x00\x01binary"
    assert db.upload("file-a", theirs.id) is None
    assert db.upload("file-\x00", mine.id) is None
    assert not db.delete_upload("file-a", theirs.id)
    assert db.delete_upload("file-a", mine.id)
    assert db.upload("file-a", mine.id) is None and not db.delete_upload("file-a", mine.id)


def test_pages_follow_creation_order_and_skip_the_expired(db: Database) -> None:
    account = db.create_account("team", low_balance_threshold=0, origin="t")
    start = now() - timedelta(hours=1)
    for n in range(5):
        upload(
            db,
            account.id,
            f"file-{n}",
            created_at=start + timedelta(seconds=n),
            purpose="batch" if n % 2 else "assistants",
        )
    upload(db, account.id, "file-old", created_at=start, expires_at=now() - timedelta(seconds=1))
    newest = db.list_uploads(account.id, limit=2)
    assert [r.id for r in newest] == ["file-4", "file-3"]
    assert [r.id for r in db.list_uploads(account.id, limit=2, after="file-3")] == ["file-2", "file-1"]
    assert [r.id for r in db.list_uploads(account.id, order="asc", after="file-2")] == ["file-3", "file-4"]
    assert [r.id for r in db.list_uploads(account.id, purpose="batch")] == ["file-3", "file-1"]
    assert db.list_uploads(account.id, after="file-unknown") == []
    assert db.upload("file-old", account.id) is None
    # The next upload sweeps the expired file away, bytes included.
    upload(db, account.id, "file-5")
    with pytest.raises(KeyError):
        db.upload_content("file-old")
