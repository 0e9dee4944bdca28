"""The request log against real databases: batch writes, keyset pages, sums over a time range,
the metrics' sample, and the step that adds the table to a version 3 database."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, inspect, select, text

from omnigate.store import migrations, schema
from omnigate.store.db import Database
from omnigate.store.request_log import LogCursor
from omnigate.store.rows import LedgerEntry, LoggedRequest

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def logged(account_id: int, minute: int, **changes) -> LoggedRequest:
    row = LoggedRequest(
        request_id=f"r-{account_id}-{minute}",
        created_at=T0 + timedelta(minutes=minute),
        account_id=account_id,
        key_prefix="og-aaaaaaaaa",
        method="POST",
        route="/v1/chat/completions",
        model="gpt-4o",
        provider="primary",
        status=200,
        error_code=None,
        stream=False,
        prompt_tokens=3,
        completion_tokens=5,
        credits=26,
        duration_ms=120.0,
        ttft_ms=None,
        overhead_ms=1.5,
    )
    return dataclasses.replace(row, **changes)


def test_pages_walk_an_accounts_rows_newest_first_exactly_once(db: Database) -> None:
    # Three rows share one instant: the id settles their order across page boundaries.
    rows = [logged(1, m) for m in range(7)] + [logged(1, 7, request_id=f"tie-{i}") for i in range(3)]
    db.write_request_log([*rows, logged(2, 3)])
    seen: list[LoggedRequest] = []
    cursor = None
    while True:
        page = db.request_log_page(1, limit=3, after=cursor)
        seen += page
        if len(page) < 3:
            break
        cursor = LogCursor(page[-1].created_at, page[-1].id or 0)
    assert len(seen) == 10 and len({r.id for r in seen}) == 10
    assert [r.created_at for r in seen] == sorted((r.created_at for r in seen), reverse=True)
    assert {r.account_id for r in seen} == {1}
    assert dataclasses.replace(seen[-1], id=None) == rows[0]  # every field comes back as written


def test_pages_filter_by_key_and_time(db: Database) -> None:
    db.write_request_log([logged(1, m, key_prefix="og-k1" if m % 2 else "og-k2") for m in range(10)])
    by_key = db.request_log_page(1, limit=100, key_prefix="og-k1")
    assert [r.created_at.minute for r in by_key] == [9, 7, 5, 3, 1]
    window = db.request_log_page(1, limit=100, start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=4))
    assert [r.created_at.minute for r in window] == [3, 2]


def test_sums_per_hour_model_and_key_within_the_range_only(db: Database) -> None:
    db.write_request_log(
        [
            logged(1, 0),
            logged(1, 10, model="other", key_prefix="og-k2"),
            logged(
                1,
                70,
                status=502,
                error_code="upstream_error",
                prompt_tokens=0,
                completion_tokens=0,
                credits=0,
            ),
            logged(1, 60 * 30),  # outside the range asked for
            logged(2, 5),  # another account
        ]
    )
    end = T0 + timedelta(hours=2)
    [total] = db.usage_sums(1, T0, end)
    assert (total.requests, total.failed, total.prompt_tokens, total.completion_tokens, total.credits) == (
        3,
        1,
        6,
        10,
        52,
    )
    hours = {(s.bucket, s.model): s.requests for s in db.usage_sums(1, T0, end, bucket_s=3600, by_model=True)}
    first = int(T0.timestamp()) // 3600
    assert hours == {(first, "gpt-4o"): 1, (first, "other"): 1, (first + 1, "gpt-4o"): 1}
    keys = {s.key_prefix: s.requests for s in db.usage_sums(1, T0, end, by_key=True)}
    assert keys == {"og-aaaaaaaaa": 2, "og-k2": 1}
    assert [s.requests for s in db.usage_sums(1, T0, end, key_prefix="og-k2")] == [1]


def test_ledger_pages_newest_first(db: Database) -> None:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    db.top_up("acme", 1000, origin="t")
    db.write_ledger(
        [
            LedgerEntry(entry_id=f"c{i}", account_id=account.id, amount=-i - 1, kind="charge")
            for i in range(4)
        ],
        origin="t",
    )
    first = db.ledger_page(account.id, limit=3)
    rest = db.ledger_page(account.id, limit=3, before_id=first[-1][0])
    assert [e.entry_id for _, e in first] == ["c3", "c2", "c1"]
    assert [e.kind for _, e in rest] == ["charge", "topup"]


def test_timings_are_the_recent_successful_requests(db: Database) -> None:
    recent = datetime.now(UTC) - timedelta(minutes=5)
    db.write_request_log(
        [
            logged(1, 0, created_at=recent, ttft_ms=20.0, stream=True),
            logged(2, 0, created_at=recent, model="other"),
            logged(1, 1, created_at=recent, status=500),
            logged(1, 2, created_at=recent, model=None, status=400),
            logged(1, 3),  # long ago
        ]
    )
    timings = db.recent_timings(recent - timedelta(minutes=1))
    assert sorted((t.model, t.ttft_ms) for t in timings) == [("gpt-4o", 20.0), ("other", None)]


def test_a_version_3_database_gains_the_request_log(url: str) -> None:
    engine = create_engine(Database(url).url)
    older = [t for name, t in schema.metadata.tables.items() if name != "request_log"]
    with contextlib.closing(engine.connect()) as conn, conn.begin():
        schema.metadata.create_all(conn, tables=older)
        conn.execute(insert(schema.schema_version).values(version=3, applied_at=datetime.now(UTC)))
    engine.dispose()
    db = Database(url)
    assert db.upgrade() == schema.SCHEMA_VERSION
    with db.engine.connect() as conn:
        versions = conn.scalars(select(schema.schema_version.c.version)).all()
        indexes = {i["name"] for i in inspect(conn).get_indexes("request_log")}
        conn.execute(text("select count(*) from request_log"))
    # Every step after 3 (a number may be missing: a release that never shipped one).
    assert versions == [3, *sorted(v for v in migrations.STEPS if v > 3)]
    assert {"ix_request_log_account", "ix_request_log_key", "ix_request_log_time"} <= indexes
    db.write_request_log([logged(1, 0)])
    assert len(db.request_log_page(1, limit=5)) == 1
    db.close()
