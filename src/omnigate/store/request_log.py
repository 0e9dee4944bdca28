"""The request log: batch writes, and the reads behind /v2/logs, /v2/usage and /models/metrics.

Every read is bounded by an index: pages walk (account[, key], created_at, id) newest first from a
cursor (keyset pagination: page 10,000 costs what page 1 does), sums cover one account over a
bounded time range, and the metrics read the most recent rows of a time window, at most
`METRICS_SAMPLE` of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, and_, case, func, insert, literal_column, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from omnigate.store import schema
from omnigate.store.rows import LoggedRequest, Timing, UsageSum
from omnigate.store.timestamps import aware

# The most rows /models/metrics reads: the newest of its window.
METRICS_SAMPLE = 50_000
_FIELDS = [f.name for f in dataclasses.fields(LoggedRequest) if f.name != "id"]


@dataclasses.dataclass(frozen=True, slots=True)
class LogCursor:
    """Where a page of the log ended: the last row's time and id (the next page is older)."""

    created_at: datetime
    id: int


class RequestLogStore:
    """The request-log half of `Database` (store/db.py), which provides the engine."""

    engine: Engine

    def write_request_log(self, rows: Sequence[LoggedRequest]) -> None:
        """Insert a batch in one transaction (one multi-row statement per driver batch)."""
        if not rows:
            return
        values = [{name: getattr(r, name) for name in _FIELDS} for r in rows]
        with self.engine.begin() as conn:
            conn.execute(insert(schema.request_log), values)

    def request_log_page(
        self,
        account_id: int,
        *,
        limit: int,
        after: LogCursor | None = None,
        key_prefix: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[LoggedRequest]:
        """Up to `limit` rows of an account, newest first, older than `after`."""
        log = schema.request_log
        query = select(log).where(log.c.account_id == account_id)
        if key_prefix is not None:
            query = query.where(log.c.key_prefix == key_prefix)
        if start is not None:
            query = query.where(log.c.created_at >= start)
        if end is not None:
            query = query.where(log.c.created_at < end)
        if after is not None:
            # The plain bound lets the index range start at the cursor; the OR settles ties.
            query = query.where(
                log.c.created_at <= after.created_at,
                or_(
                    log.c.created_at < after.created_at,
                    and_(log.c.created_at == after.created_at, log.c.id < after.id),
                ),
            )
        query = query.order_by(log.c.created_at.desc(), log.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_logged(r) for r in conn.execute(query)]

    def usage_sums(
        self,
        account_id: int,
        start: datetime,
        end: datetime,
        *,
        key_prefix: str | None = None,
        bucket_s: int | None = None,
        by_model: bool = False,
        by_key: bool = False,
    ) -> list[UsageSum]:
        """An account's requests in [start, end) summed per time bucket of `bucket_s` seconds
        (since the epoch, UTC; None: no buckets), per model and per key, as asked."""
        log = schema.request_log
        groups: list[ColumnElement] = []
        bucket = None
        if bucket_s is not None:
            bucket = literal_column(_bucket_sql(self.engine.dialect.name, int(bucket_s))).label("bucket")
            groups.append(bucket)
        if by_model:
            groups.append(log.c.model)
        if by_key:
            groups.append(log.c.key_prefix)
        query = select(
            *groups,
            func.count().label("requests"),
            func.sum(case((log.c.status >= 400, 1), else_=0)).label("failed"),
            func.sum(log.c.prompt_tokens).label("prompt_tokens"),
            func.sum(log.c.completion_tokens).label("completion_tokens"),
            func.sum(log.c.credits).label("credits"),
        ).where(log.c.account_id == account_id, log.c.created_at >= start, log.c.created_at < end)
        if key_prefix is not None:
            query = query.where(log.c.key_prefix == key_prefix)
        if groups:
            query = query.group_by(*groups)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            UsageSum(
                bucket=int(r.bucket) if bucket is not None else None,
                model=r.model if by_model else None,
                key_prefix=r.key_prefix if by_key else None,
                requests=int(r.requests),
                failed=int(r.failed or 0),
                prompt_tokens=int(r.prompt_tokens or 0),
                completion_tokens=int(r.completion_tokens or 0),
                credits=int(r.credits or 0),
            )
            for r in rows
            if r.requests
        ]

    def recent_timings(self, since: datetime, *, limit: int = METRICS_SAMPLE) -> list[Timing]:
        """The newest successful requests that named a model, since `since`, every account's."""
        log = schema.request_log
        query = (
            select(log.c.model, log.c.duration_ms, log.c.ttft_ms, log.c.completion_tokens)
            .where(log.c.created_at >= since, log.c.status < 400, log.c.model.is_not(None))
            .order_by(log.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Timing(r.model, r.duration_ms, r.ttft_ms, r.completion_tokens) for r in conn.execute(query)
            ]


def _bucket_sql(dialect: str, bucket_s: int) -> str:
    """Whole seconds since the epoch, divided (integer division) by the bucket size."""
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch from request_log.created_at) / {bucket_s}) AS BIGINT)"
    # SQLite keeps UTC text; strftime('%s') reads it as UTC.
    return f"CAST(strftime('%s', request_log.created_at) AS INTEGER) / {bucket_s}"


def _logged(r: Row) -> LoggedRequest:
    values = {name: getattr(r, name) for name in _FIELDS}
    values["created_at"] = aware(r.created_at)
    values["stream"] = bool(r.stream)
    values["credits"] = int(r.credits)
    return LoggedRequest(**values, id=r.id)
