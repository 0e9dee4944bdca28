"""Pages and sums stay index-bound at a million rows: SQLite's own query plan for each read the
usage, log and billing routes make, on a database filled in bulk (no timing is asserted)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex

from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.request_log import LogCursor

ROWS = 1_000_000
ACCOUNTS = 50
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _stamps() -> list[str]:
    """One time every 8 seconds from T0 (some 92 days), as SQLAlchemy keeps times on SQLite:
    naive UTC text. Built from parts: a million datetime.isoformat calls take seconds."""
    days = [(T0 + timedelta(days=d)).date().isoformat() for d in range(ROWS * 8 // 86400 + 1)]
    out = []
    for i in range(ROWS):
        day, second = divmod(i * 8, 86400)
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        out.append(f"{days[day]} {hour:02d}:{minute:02d}:{second:02d}.000000")
    return out


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("scale") / "big.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.create_account("acme", low_balance_threshold=0, origin="t")
    db.close()
    conn = sqlite3.connect(path)
    # A bulk load: no journal, and the indexes built once at the end (sorting beats a million
    # index inserts several times over).
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    indexes = [*schema.request_log.indexes, *schema.ledger.indexes]
    stamps = _stamps()
    for index in indexes:
        conn.execute(f"DROP INDEX {index.name}")
    with conn:
        conn.executemany(
            "INSERT INTO request_log (request_id, created_at, account_id, key_prefix, method, route,"
            " model, provider, status, error_code, stream, prompt_tokens, completion_tokens, credits,"
            " duration_ms, ttft_ms, overhead_ms)"
            " VALUES (?, ?, ?, ?, 'POST', '/v1/chat/completions', 'gpt-4o', 'primary', 200, NULL, 0,"
            " 10, 20, 100, 250.0, NULL, 1.0)",
            ((f"r{i}", stamps[i], i % ACCOUNTS + 1, f"og-key{i % 200:05d}") for i in range(ROWS)),
        )
        conn.executemany(
            "INSERT INTO ledger (entry_id, account_id, amount, kind, created_at)"
            " VALUES (?, ?, -100, 'charge', ?)",
            ((f"e{i}", i % ACCOUNTS + 1, stamps[i]) for i in range(ROWS)),
        )
        for index in indexes:
            conn.execute(str(CreateIndex(index).compile(dialect=sqlite.dialect())))
    conn.close()
    database = Database(f"sqlite:///{path}")
    yield database
    database.close()


def _plans(db: Database, read) -> list[str]:
    """SQLite's query plan of every statement that `read` makes through the store."""
    statements: list[tuple[str, tuple]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        read()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert statements
    plans = []
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append(" / ".join(str(r[-1]) for r in rows))
    return plans


def _uses(plan: str, index: str) -> bool:
    """The plan searches the index, and reads no table in full nor sorts the rows afterwards."""
    scans_table = any(part.startswith("SCAN ") and "INDEX" not in part for part in plan.split(" / "))
    return (
        f"INDEX {index}" in plan
        and "SEARCH" in plan
        and not scans_table
        and "TEMP B-TREE FOR ORDER" not in plan
    )


def test_log_pages_search_the_account_and_key_indexes(big: Database) -> None:
    # A page from the middle of the log: where a client that paged half a million rows stands.
    middle = LogCursor(T0 + timedelta(days=45), ROWS // 2)
    assert len(big.request_log_page(7, limit=20, after=middle)) == 20
    [first, deep, by_key] = (
        _plans(big, lambda: big.request_log_page(7, limit=20)),
        _plans(big, lambda: big.request_log_page(7, limit=20, after=middle)),
        _plans(big, lambda: big.request_log_page(7, limit=20, key_prefix="og-key00006", after=middle)),
    )
    assert all(_uses(p, "ix_request_log_account") for p in first + deep), first + deep
    assert all(_uses(p, "ix_request_log_key") for p in by_key), by_key


def test_usage_sums_are_bounded_by_account_and_time(big: Database) -> None:
    start = T0 + timedelta(days=30)
    plans = _plans(
        big, lambda: big.usage_sums(3, start, start + timedelta(days=7), bucket_s=3600, by_model=True)
    )
    # One range of one account's rows (grouping them sorts that range, not the table).
    expected = (
        "SEARCH request_log USING INDEX ix_request_log_account"
        " (account_id=? AND created_at>? AND created_at<?)"
    )
    assert all(p.startswith(expected) and "SCAN" not in p for p in plans), plans


def test_ledger_pages_search_the_account_index(big: Database) -> None:
    [first] = big.ledger_page(9, limit=1)
    plans = _plans(big, lambda: big.ledger_page(9, limit=20, before_id=first[0] - 500_000))
    assert all(_uses(p, "ix_ledger_account") for p in plans), plans


def test_metrics_read_a_time_window_by_its_index(big: Database) -> None:
    since = T0 + timedelta(days=91)
    plans = _plans(big, lambda: big.recent_timings(since))
    assert all("ix_request_log_time" in p and "SEARCH" in p for p in plans), plans
