"""The credit ledger: idempotent batch writes, and the sums read from it.

Every entry carries a unique `entry_id` and is inserted with insert-or-ignore, so a replayed
outbox or a retry after a lost acknowledgement can never add a row twice. An account's balance
moves by the amounts of the rows actually inserted, in the same transaction, so the balance
always equals the ledger's sum. A row the database refuses is isolated: the batch is written
again row by row and the refused rows come back to the caller, which keeps them for replay,
instead of one bad row holding back every account's charges.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from omnigate.store import schema
from omnigate.store.rows import LedgerEntry
from omnigate.store.timestamps import aware, now

log = logging.getLogger(__name__)

_COLUMNS = (
    "entry_id, account_id, amount, kind, key_prefix, model, request_id, prompt_tokens,"
    " completion_tokens, note, created_at"
)
# A batch goes to SQLite in chunks of these sizes (largest first; 11 parameters a row, under
# SQLite's 32,766). Few sizes mean few distinct statements: SQLite's driver caches up to 128 per
# connection, and one for every batch size seen grew the process by some 80 MB.
_SQLITE_CHUNKS = (1024, 128, 16, 1)
# Each unnest array is typed, so PostgreSQL takes the whole batch as one statement.
_POSTGRES_INSERT = (
    f"INSERT INTO ledger ({_COLUMNS}) SELECT * FROM unnest("
    "%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],"
    " %s::int[], %s::int[], %s::text[], %s::timestamptz[])"
    " ON CONFLICT (entry_id) DO NOTHING RETURNING account_id, amount"
)


@dataclass(slots=True)
class LedgerWrite:
    """What a batch write did: the credits it added per account (rows already present count for
    nothing), each account's balance once the batch is in (rows already present included), and
    the entries the database refused."""

    deltas: dict[int, int] = field(default_factory=dict)
    balances: dict[int, int] = field(default_factory=dict)
    rejected: list[LedgerEntry] = field(default_factory=list)


def is_transient(exc: BaseException) -> bool:
    """A failure of the connection rather than of the data: the whole batch waits and retries."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


class LedgerStore:
    """The ledger half of `Database` (store/db.py), which provides the engine and the change feed."""

    engine: Engine

    def record_change(self, conn: Connection, kind: str, ref: str, origin: str) -> None:
        raise NotImplementedError

    def write_ledger(self, entries: Sequence[LedgerEntry], *, origin: str) -> LedgerWrite:
        """Insert the entries that are not there yet and move balances by them, in one transaction.

        A connection failure raises (nothing was written, or everything was: a retry is safe).
        A row the database refuses does not fail the batch: it comes back in `rejected`.
        """
        if not entries:
            return LedgerWrite()
        try:
            with self.engine.begin() as conn:
                deltas = self._insert(conn, entries, origin)
                return LedgerWrite(deltas, self._balances(conn, {e.account_id for e in entries}))
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning(
                "the ledger refused a batch of %d entries (%s); writing them one by one", len(entries), exc
            )
        result = LedgerWrite()
        for entry in entries:
            try:
                with self.engine.begin() as conn:
                    for account_id, delta in self._insert(conn, [entry], origin).items():
                        result.deltas[account_id] = result.deltas.get(account_id, 0) + delta
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error("the ledger refused entry %s (%s); it is kept for replay", entry.entry_id, exc)
                result.rejected.append(entry)
        with self.engine.connect() as conn:
            result.balances = self._balances(conn, {e.account_id for e in entries})
        return result

    def _balances(self, conn: Connection, account_ids: set[int]) -> dict[int, int]:
        rows = conn.execute(
            select(schema.accounts.c.id, schema.accounts.c.balance).where(
                schema.accounts.c.id.in_(account_ids)
            )
        )
        return {account_id: int(balance) for account_id, balance in rows}

    def _insert(self, conn: Connection, entries: Sequence[LedgerEntry], origin: str) -> dict[int, int]:
        stamp = now()
        if conn.dialect.name == "postgresql":
            rows = [_row(e, e.created_at or stamp) for e in entries]
            columns = [list(c) for c in zip(*rows, strict=True)]
            inserted = conn.exec_driver_sql(_POSTGRES_INSERT, tuple(columns)).all()
        else:
            # SQLAlchemy keeps SQLite datetimes as naive UTC text ("2026-11-29 21:10:00.123456");
            # they are written the same way (isoformat: several times faster than strftime).
            rows = [_row(e, (e.created_at or stamp).isoformat(" ", "microseconds")[:26]) for e in entries]
            inserted = []
            for chunk in _chunks(rows):
                params = tuple(itertools.chain.from_iterable(chunk))
                inserted += conn.exec_driver_sql(_sqlite_insert(len(chunk)), params).all()
        deltas: dict[int, int] = {}
        for account_id, amount in inserted:
            deltas[account_id] = deltas.get(account_id, 0) + amount
        # In id order, so that two writers never wait on each other's rows in opposite orders.
        for account_id, delta in sorted(deltas.items()):
            conn.execute(
                update(schema.accounts)
                .where(schema.accounts.c.id == account_id)
                .values(balance=schema.accounts.c.balance + delta, updated_at=stamp)
            )
            self.record_change(conn, "account", str(account_id), origin)
        return deltas

    # -- reading ----------------------------------------------------------------------------
    def ledger_sum(self, account_id: int) -> int:
        with self.engine.connect() as conn:
            total = conn.scalar(
                select(func.coalesce(func.sum(schema.ledger.c.amount), 0)).where(
                    schema.ledger.c.account_id == account_id
                )
            )
        return int(total or 0)

    def ledger_entries(self, account_id: int) -> list[LedgerEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.ledger)
                .where(schema.ledger.c.account_id == account_id)
                .order_by(schema.ledger.c.id)
            ).all()
        return [_entry(r) for r in rows]

    def ledger_page(
        self, account_id: int, *, limit: int, before_id: int | None = None
    ) -> list[tuple[int, LedgerEntry]]:
        """Up to `limit` of an account's entries with their row ids, newest first, older than
        `before_id`: a keyset page on (account_id, id), which costs the same on any page."""
        ledger = schema.ledger
        query = select(ledger).where(ledger.c.account_id == account_id)
        if before_id is not None:
            query = query.where(ledger.c.id < before_id)
        query = query.order_by(ledger.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [(r.id, _entry(r)) for r in conn.execute(query)]

    def spent_by_key(self, since: datetime) -> dict[str, int]:
        """Credits charged (net of refunds) through each key since `since`."""
        ledger = schema.ledger
        query = (
            select(ledger.c.key_prefix, func.sum(ledger.c.amount))
            .where(ledger.c.kind.in_(("charge", "refund")), ledger.c.created_at >= since)
            .group_by(ledger.c.key_prefix)
        )
        with self.engine.connect() as conn:
            return {prefix: -int(total or 0) for prefix, total in conn.execute(query) if prefix}

    def spent_since(
        self, since: datetime, *, account_id: int | None = None, key_prefix: str | None = None
    ) -> int:
        """Credits charged (net of refunds) since `since`, to an account or through a key."""
        ledger = schema.ledger
        query = select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
            ledger.c.kind.in_(("charge", "refund")), ledger.c.created_at >= since
        )
        if account_id is not None:
            query = query.where(ledger.c.account_id == account_id)
        if key_prefix is not None:
            query = query.where(ledger.c.key_prefix == key_prefix)
        with self.engine.connect() as conn:
            return -int(conn.scalar(query) or 0)


@functools.cache
def _sqlite_insert(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        f"INSERT INTO ledger ({_COLUMNS}) VALUES {values}"
        " ON CONFLICT (entry_id) DO NOTHING RETURNING account_id, amount"
    )


def _chunks(rows: list[tuple]) -> Iterator[list[tuple]]:
    start = 0
    for size in _SQLITE_CHUNKS:
        while len(rows) - start >= size:
            yield rows[start : start + size]
            start += size


def _entry(r: Row) -> LedgerEntry:
    return LedgerEntry(
        entry_id=r.entry_id,
        account_id=r.account_id,
        amount=int(r.amount),
        kind=r.kind,
        key_prefix=r.key_prefix,
        model=r.model,
        request_id=r.request_id,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        note=r.note,
        created_at=aware(r.created_at),
    )


def _row(e: LedgerEntry, created: datetime | str) -> tuple:
    return (*e.columns(), created)
