"""Creating the schema, and moving a database made by an older release to the current one.

A new database gets the current tables at once. An older one runs each numbered step after its
version, each in its own transaction with the version row that records it. Steps use plain DDL
that SQLite and PostgreSQL both accept, except where a step says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, Engine, func, insert, inspect, select
from sqlalchemy.engine import Connection

from omnigate.store import schema
from omnigate.store.timestamps import now


def upgrade(engine: Engine) -> int:
    """Create or migrate the schema; returns the version now in place."""
    if not inspect(engine).has_table("schema_version"):
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(schema.schema_version).values(version=schema.SCHEMA_VERSION, applied_at=now())
            )
        return schema.SCHEMA_VERSION
    with engine.connect() as conn:
        current = int(conn.scalar(select(func.max(schema.schema_version.c.version))) or 1)
    # Steps are numbered by the release that added them; a number may be missing (never released).
    for version in sorted(v for v in STEPS if current < v <= schema.SCHEMA_VERSION):
        with engine.begin() as conn:
            STEPS[version](conn)
            conn.execute(insert(schema.schema_version).values(version=version, applied_at=now()))
    # Tables that were added without a version of their own (none yet) are created here.
    schema.metadata.create_all(engine)
    return max(current, schema.SCHEMA_VERSION)


def _add_columns(conn: Connection, table: str, names: list[str]) -> None:
    have = {c["name"] for c in inspect(conn).get_columns(table)}
    columns: dict[str, Column] = {c.name: c for c in schema.metadata.tables[table].columns}
    for name in names:
        if name not in have:
            kind = columns[name].type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def _v2(conn: Connection) -> None:
    """Idempotent ledger entries, longer request ids, limits and scopes on keys and accounts."""
    limits = ["rpm", "tpm", "concurrency", "budget", "budget_period"]
    _add_columns(conn, "accounts", limits)
    _add_columns(conn, "api_keys", ["updated_at", "scopes", *limits])
    _add_columns(conn, "ledger", ["entry_id"])
    conn.exec_driver_sql("CREATE UNIQUE INDEX IF NOT EXISTS ux_ledger_entry_id ON ledger (entry_id)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_ledger_key ON ledger (key_prefix, created_at)")
    if conn.dialect.name == "postgresql":  # SQLite does not enforce lengths
        conn.exec_driver_sql(
            f"ALTER TABLE ledger ALTER COLUMN request_id TYPE VARCHAR({schema.REQUEST_ID_MAX})"
        )


def _v3(conn: Connection) -> None:
    """Asynchronous generations (the task runner)."""
    schema.tasks.create(conn, checkfirst=True)
    schema.task_inputs.create(conn, checkfirst=True)


def _v4(conn: Connection) -> None:
    """The request log (GET /v2/logs, /v2/usage, /models/metrics), with its indexes."""
    schema.request_log.create(conn, checkfirst=True)


def _v5(conn: Connection) -> None:
    """Message batches and their requests."""
    schema.batches.create(conn, checkfirst=True)
    schema.batch_entries.create(conn, checkfirst=True)


def _v6(conn: Connection) -> None:
    """What AI searches found, for their follow-up routes."""
    schema.search_results.create(conn, checkfirst=True)


def _v7(conn: Connection) -> None:
    """Uploaded files (/v1/files) and their bytes."""
    schema.uploads.create(conn, checkfirst=True)
    schema.upload_contents.create(conn, checkfirst=True)


def _v8(conn: Connection) -> None:
    """The Assistants API: its objects, and its runs with their leases."""
    schema.assistant_objects.create(conn, checkfirst=True)
    schema.assistant_runs.create(conn, checkfirst=True)


def _v9(conn: Connection) -> None:
    """The file_search index of uploaded files: its chunks and their embeddings."""
    schema.file_indexes.create(conn, checkfirst=True)
    schema.file_chunks.create(conn, checkfirst=True)


def _v10(conn: Connection) -> None:
    """OpenAI's file-based batches: what they add to a batch's row."""
    names = ["endpoint", "input_file_id", "completion_window", "metadata"]
    _add_columns(conn, "batches", [*names, "output_file_id", "error_file_id", "finalized_at"])


STEPS: dict[int, Callable[[Connection], None]] = {
    2: _v2,
    3: _v3,
    4: _v4,
    5: _v5,
    6: _v6,
    7: _v7,
    8: _v8,
    9: _v9,
    10: _v10,
}
