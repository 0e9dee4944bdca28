"""The request log's writer on a real database: rows go in batches, wait (bounded) while the
database refuses them, are dropped and counted beyond the bound, and are written at shutdown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnigate.store.db import Database
from omnigate.telemetry.record import RequestRecord
from omnigate.telemetry.request_log import RequestLogWriter


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'log.db'}")
    database.upgrade()
    yield database
    database.close()


def record(n: int, *, account_id: int | None = 1) -> RequestRecord:
    return RequestRecord(
        request_id=f"r{n}",
        method="POST",
        route="/v1/chat/completions",
        started_at=datetime.now(UTC),
        started=time.perf_counter(),
        status=200,
        duration_ms=12.5,
        account_id=account_id,
        key_prefix="og-abc" if account_id is not None else None,
        model="gpt-4o",
        prompt_tokens=3,
        completion_tokens=4,
        credits=22,
        upstream_ms=10.0,
    )


def _logged_ids(db: Database) -> list[str]:
    return sorted(r.request_id for r in db.request_log_page(1, limit=100))


async def test_rows_wait_while_the_database_refuses_them_and_the_overflow_is_counted(db: Database) -> None:
    writer = RequestLogWriter(db, flush_interval_s=3600, max_pending=5)
    with db.engine.begin() as conn:  # the table is away: every write fails
        conn.exec_driver_sql("ALTER TABLE request_log RENAME TO request_log_away")
    for n in range(3):
        writer.observe(record(n))
    await writer.flush()
    assert (writer.pending, writer.dropped, writer.written) == (3, 0, 0)
    for n in range(3, 8):
        writer.observe(record(n))
    assert (writer.pending, writer.dropped) == (5, 3)  # bounded: the newest three are dropped
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE request_log_away RENAME TO request_log")
    await writer.flush()
    assert (writer.pending, writer.dropped, writer.written) == (0, 3, 5)
    assert _logged_ids(db) == ["r0", "r1", "r2", "r3", "r4"]


async def test_requests_without_a_key_are_not_logged_and_shutdown_writes_the_rest(db: Database) -> None:
    writer = RequestLogWriter(db, flush_interval_s=3600, max_pending=100)
    await writer.start()
    writer.observe(record(1))
    writer.observe(record(2, account_id=None))  # a wrong key: no account to log it under
    await writer.stop()
    assert _logged_ids(db) == ["r1"]
    [row] = db.request_log_page(1, limit=1)
    assert (row.credits, row.overhead_ms, row.ttft_ms) == (22, 2.5, None)
