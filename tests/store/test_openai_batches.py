"""OpenAI batches in the store (schema v10), on SQLite and PostgreSQL: the step that adds their
columns to an older database, and files written once however many runners finish a batch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, inspect

from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.timestamps import now
from omnigate.store.uploads import UploadRow


def test_a_version_7_database_gains_the_batch_columns(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        for name in ("endpoint", "input_file_id", "completion_window", "metadata", "output_file_id"):
            conn.exec_driver_sql(f"ALTER TABLE batches DROP COLUMN {name}")
        conn.exec_driver_sql("ALTER TABLE batches DROP COLUMN error_file_id")
        conn.exec_driver_sql("ALTER TABLE batches DROP COLUMN finalized_at")
        conn.execute(delete(schema.schema_version))
        conn.execute(insert(schema.schema_version).values(version=7, applied_at=now()))
    assert "endpoint" not in {c["name"] for c in inspect(db.engine).get_columns("batches")}
    assert db.upgrade() == schema.SCHEMA_VERSION == 10
    assert db.upgrade() == schema.SCHEMA_VERSION  # a second run changes nothing
    columns = {c["name"] for c in inspect(db.engine).get_columns("batches")}
    assert {"endpoint", "input_file_id", "output_file_id", "error_file_id", "finalized_at"} <= columns
    db.close()


def test_the_files_of_a_batch_are_written_once(db: Database) -> None:
    account = db.create_account("team", low_balance_threshold=0, origin="t")
    db.insert_batch(
        batch_id="batch_x",
        account_id=account.id,
        key_prefix="k",
        request_id="r",
        expires_at=now() + timedelta(hours=1),
        requests=[("a", "{}")],
        openai={"endpoint": "/v1/chat/completions", "input_file_id": "file-in", "completion_window": "24h"},
    )
    row = UploadRow("file-out", account.id, "out.jsonl", "batch_output", 2, "application/jsonl", now())
    assert not db.finalize_batch("batch_x", output=(row, b"{}"), errors=None)  # still running
    assert db.cancel_batch("batch_x").status == "ended"
    assert db.batches_to_finalize() == ["batch_x"]
    assert db.finalize_batch("batch_x", output=(row, b"{}"), errors=None)
    assert not db.finalize_batch("batch_x", output=(row, b"{}"), errors=None)  # a second runner
    assert db.batches_to_finalize() == []
    batch = db.batch("batch_x")
    assert batch.is_openai and batch.output_file_id == "file-out" and batch.finalized_at is not None
    assert db.upload_content("file-out") == b"{}"
    assert [b.id for b in db.openai_batches(account.id, limit=5)] == ["batch_x"]
