"""Database access: accounts, keys, the credit ledger and the change feed.

Plain synchronous SQLAlchemy Core. The server never calls it on the event loop: the hot path
reads in-memory caches and the background sync loop (store/sync.py) does the I/O in a thread.
The CLI calls it directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Connection

from omnigate.store import schema
from omnigate.store.keys import hash_key, new_key, visible_prefix

SCHEMA_VERSION = 1


class StoreError(ValueError):
    """A request the store refuses (unknown account, duplicate name, ...)."""


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    balance: int
    low_balance_threshold: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: int
    account_id: int
    prefix: str
    key_hash: str
    name: str
    admin: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    account_id: int
    amount: int
    kind: str
    key_prefix: str | None = None
    model: str | None = None
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    note: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    account_id: int
    model: str
    input: str  # JSON text of the turn's input items
    output: str  # JSON text of the Response object
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    kind: str
    ref: str


def now() -> datetime:
    return datetime.now(UTC)


def _normalise_url(url: str) -> str:
    # Users write postgresql://; SQLAlchemy needs to be told to use psycopg 3.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._ledger_insert = (
            "INSERT INTO ledger (account_id, amount, kind, key_prefix, model, request_id, prompt_tokens,"
            f" completion_tokens, note, created_at) VALUES ({', '.join([mark] * 10)})"
        )

    def close(self) -> None:
        self.engine.dispose()

    # -- schema --------------------------------------------------------------------------
    def upgrade(self) -> int:
        """Create or migrate the schema; returns the version now in place."""
        schema.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            current = conn.scalar(select(func.max(schema.schema_version.c.version)))
            if current is None:
                conn.execute(insert(schema.schema_version).values(version=SCHEMA_VERSION, applied_at=now()))
                current = SCHEMA_VERSION
        return int(current)

    # -- accounts --------------------------------------------------------------------------
    def create_account(self, name: str, *, low_balance_threshold: int, origin: str) -> AccountRow:
        name = name.strip()
        if not name:
            raise StoreError("an account needs a name")
        with self.engine.begin() as conn:
            if conn.scalar(select(schema.accounts.c.id).where(schema.accounts.c.name == name)):
                raise StoreError(f"account {name!r} already exists")
            stamp = now()
            account_id = conn.execute(
                insert(schema.accounts).values(
                    name=name,
                    balance=0,
                    low_balance_threshold=low_balance_threshold,
                    created_at=stamp,
                    updated_at=stamp,
                )
            ).inserted_primary_key[0]
            _record_change(conn, "account", str(account_id), origin)
        return self.account(account_id)

    def account(self, ref: int | str) -> AccountRow:
        column = schema.accounts.c.id if isinstance(ref, int) else schema.accounts.c.name
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.accounts).where(column == ref)).first()
        if row is None:
            raise StoreError(f"account {ref!r} does not exist")
        return _account(row)

    def list_accounts(self) -> list[AccountRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.accounts).order_by(schema.accounts.c.id)).all()
        return [_account(r) for r in rows]

    def top_up(self, account: str | int, credits: int, *, origin: str, note: str | None = None) -> AccountRow:
        if credits == 0:
            raise StoreError("a top-up needs a non-zero number of credits")
        row = self.account(account)
        entry = LedgerEntry(account_id=row.id, amount=credits, kind="topup", note=note)
        self.write_ledger([entry], origin=origin)
        return self.account(row.id)

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
        return [
            LedgerEntry(
                account_id=r.account_id,
                amount=r.amount,
                kind=r.kind,
                key_prefix=r.key_prefix,
                model=r.model,
                request_id=r.request_id,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                note=r.note,
                created_at=_aware(r.created_at),
            )
            for r in rows
        ]

    def write_ledger(self, entries: Iterable[LedgerEntry], *, origin: str) -> dict[int, int]:
        """Append entries and move each account's balance by their sum, in one transaction.

        Returns the total written per account id.
        """
        stamp = now()
        as_text = self.engine.dialect.name == "sqlite"
        rows = []
        deltas: dict[int, int] = {}
        for e in entries:
            created = e.created_at or stamp
            rows.append(
                (
                    e.account_id,
                    e.amount,
                    e.kind,
                    e.key_prefix,
                    e.model,
                    e.request_id,
                    e.prompt_tokens,
                    e.completion_tokens,
                    e.note,
                    # SQLAlchemy keeps SQLite datetimes as naive UTC text; write them the same way.
                    created.strftime("%Y-%m-%d %H:%M:%S.%f") if as_text else created,
                )
            )
            deltas[e.account_id] = deltas.get(e.account_id, 0) + e.amount
        if not rows:
            return deltas
        with self.engine.begin() as conn:
            # The driver's own executemany: thousands of rows a second arrive here, and
            # SQLAlchemy's per-row parameter processing would cost more than the insert.
            conn.exec_driver_sql(self._ledger_insert, rows)
            for account_id, delta in sorted(deltas.items()):
                conn.execute(
                    update(schema.accounts)
                    .where(schema.accounts.c.id == account_id)
                    .values(balance=schema.accounts.c.balance + delta, updated_at=stamp)
                )
                _record_change(conn, "account", str(account_id), origin)
        return deltas

    # -- keys ------------------------------------------------------------------------------
    def create_key(
        self, account: str | int, *, admin: bool, name: str = "", origin: str
    ) -> tuple[str, KeyRow]:
        """Create a key and return it in clear text; this is the only time it exists in clear."""
        row = self.account(account)
        key = new_key()
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.api_keys).values(
                    account_id=row.id,
                    prefix=visible_prefix(key),
                    key_hash=hash_key(key),
                    name=name,
                    admin=admin,
                    disabled=False,
                    created_at=now(),
                )
            )
            _record_change(conn, "key", visible_prefix(key), origin)
        return key, self.key(visible_prefix(key))

    def key(self, prefix: str) -> KeyRow:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.api_keys).where(schema.api_keys.c.prefix == prefix)).first()
        if row is None:
            raise StoreError(f"no key has the prefix {prefix!r}")
        return _key(row)

    def list_keys(self) -> list[KeyRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.api_keys).order_by(schema.api_keys.c.id)).all()
        return [_key(r) for r in rows]

    def count_keys(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(schema.api_keys)) or 0)

    def set_key_disabled(self, prefix: str, disabled: bool, *, origin: str) -> KeyRow:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(schema.api_keys).where(schema.api_keys.c.prefix == prefix).values(disabled=disabled)
            )
            if result.rowcount == 0:
                raise StoreError(f"no key has the prefix {prefix!r}")
            _record_change(conn, "key", prefix, origin)
        return self.key(prefix)

    # -- stored Responses API turns ---------------------------------------------------------
    def save_response(self, row: StoredResponse) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.responses).values(
                    id=row.id,
                    account_id=row.account_id,
                    model=row.model,
                    input=row.input,
                    output=row.output,
                    created_at=row.created_at,
                )
            )

    def stored_response(self, response_id: str) -> StoredResponse | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(schema.responses).where(schema.responses.c.id == response_id)).first()
        if r is None:
            return None
        return StoredResponse(r.id, r.account_id, r.model, r.input, r.output, _aware(r.created_at))

    def delete_response(self, response_id: str, account_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(schema.responses).where(
                    schema.responses.c.id == response_id, schema.responses.c.account_id == account_id
                )
            )
        return result.rowcount > 0

    # -- change feed -----------------------------------------------------------------------
    def last_change_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.coalesce(func.max(schema.changes.c.id), 0))) or 0)

    def changes_since(self, after_id: int, *, skip_origin: str) -> list[Change]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.changes.c.id, schema.changes.c.kind, schema.changes.c.ref)
                .where(schema.changes.c.id > after_id, schema.changes.c.origin != skip_origin)
                .order_by(schema.changes.c.id)
            ).all()
        return [Change(id=r.id, kind=r.kind, ref=r.ref) for r in rows]


def _record_change(conn: Connection, kind: str, ref: str, origin: str) -> None:
    conn.execute(insert(schema.changes).values(kind=kind, ref=ref, origin=origin, created_at=now()))


def _account(row) -> AccountRow:
    return AccountRow(
        id=row.id,
        name=row.name,
        balance=int(row.balance),
        low_balance_threshold=int(row.low_balance_threshold),
        updated_at=_aware(row.updated_at),
    )


def _key(row) -> KeyRow:
    return KeyRow(
        id=row.id,
        account_id=row.account_id,
        prefix=row.prefix,
        key_hash=row.key_hash,
        name=row.name,
        admin=bool(row.admin),
        disabled=bool(row.disabled),
        created_at=_aware(row.created_at),
    )


def _aware(stamp: datetime) -> datetime:
    # SQLite returns naive datetimes; everything we store is UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the CLI write while a server reads; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
