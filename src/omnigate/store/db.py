"""Database access: accounts, keys, stored Responses turns and the change feed (the ledger is in
store/ledger.py, tasks in store/tasks.py, the request log in store/request_log.py, batches in
store/batches.py, search results in store/search_results.py, uploaded files in
store/uploads.py, the Assistants API in store/assistants.py and store/assistant_runs.py, the
file_search index in store/knowledge.py).

Plain synchronous SQLAlchemy Core. The server never calls it on the event loop: the hot path
reads in-memory caches, and the background sync loop (omnigate/sync.py) does the I/O in a thread.
The CLI calls it directly.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, inspect, select, update
from sqlalchemy.engine import Connection

from omnigate.store import migrations, schema
from omnigate.store.assistant_runs import AssistantRunStore
from omnigate.store.batches import BatchStore
from omnigate.store.keys import hash_key, new_key, visible_prefix
from omnigate.store.knowledge import KnowledgeStore
from omnigate.store.openai_batches import OpenAIBatchStore
from omnigate.store.request_log import RequestLogStore
from omnigate.store.rows import (
    NO_LIMITS,
    AccountRow,
    Change,
    KeyRow,
    LedgerEntry,
    Limits,
    StoredResponse,
)
from omnigate.store.search_results import SearchResultStore
from omnigate.store.tasks import TaskStore
from omnigate.store.timestamps import aware, now
from omnigate.store.uploads import UploadStore

# The change feed keeps this long a history; a server that falls further behind reloads everything.
CHANGES_KEPT = timedelta(minutes=10)


class StoreError(ValueError):
    """A request the store refuses (unknown account, duplicate name, ...)."""


def _text(value: str, what: str) -> str:
    """Text to be written: PostgreSQL refuses NUL characters in text, so they are refused here,
    on every database alike, as the caller's mistake."""
    if "\x00" in value:
        raise StoreError(f"{what} cannot contain NUL characters")
    return value


def _findable(value: str) -> bool:
    """Whether a looked-up name or id could be stored at all (see `_text`)."""
    return "\x00" not in value


def _normalise_url(url: str) -> str:
    # Users write postgresql://; SQLAlchemy needs to be told to use psycopg 3.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database(
    TaskStore,
    RequestLogStore,
    BatchStore,
    OpenAIBatchStore,
    SearchResultStore,
    UploadStore,
    AssistantRunStore,
    KnowledgeStore,
):
    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def close(self) -> None:
        self.engine.dispose()

    def upgrade(self) -> int:
        """Create or migrate the schema; returns the version now in place."""
        return migrations.upgrade(self.engine)

    def schema_version(self) -> int | None:
        """The schema version in place (None: no schema yet); raises when the database is down."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("schema_version"):
                return None
            return conn.scalar(select(func.max(schema.schema_version.c.version)))

    # -- accounts --------------------------------------------------------------------------
    def create_account(
        self, name: str, *, low_balance_threshold: int, origin: str, limits: Limits = NO_LIMITS
    ) -> AccountRow:
        name = _text(name.strip(), "an account name")
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
                    **limits.fields(),
                )
            ).inserted_primary_key[0]
            self.record_change(conn, "account", str(account_id), origin)
        return self.account(account_id)

    def account(self, ref: int | str) -> AccountRow:
        column = schema.accounts.c.id if isinstance(ref, int) else schema.accounts.c.name
        row = None
        if isinstance(ref, int) or _findable(ref):
            with self.engine.connect() as conn:
                row = conn.execute(select(schema.accounts).where(column == ref)).first()
        if row is None:
            raise StoreError(f"account {ref!r} does not exist")
        return _account(row)

    def list_accounts(self) -> list[AccountRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.accounts).order_by(schema.accounts.c.id)).all()
        return [_account(r) for r in rows]

    def set_account_limits(self, ref: int | str, limits: Limits, *, origin: str) -> AccountRow:
        row = self.account(ref)
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.accounts)
                .where(schema.accounts.c.id == row.id)
                .values(updated_at=now(), **limits.fields())
            )
            self.record_change(conn, "account", str(row.id), origin)
        return self.account(row.id)

    def top_up(
        self,
        account: str | int,
        credits: int,
        *,
        origin: str,
        note: str | None = None,
        entry_id: str | None = None,
    ) -> tuple[AccountRow, bool]:
        """Add (or, if negative, remove) credits. Returns the account and whether this call added
        them: a top-up whose `entry_id` is already in the ledger is not applied twice."""
        if credits == 0:
            raise StoreError("a top-up needs a non-zero number of credits")
        row = self.account(account)
        entry = LedgerEntry(
            entry_id=entry_id or f"topup-{uuid.uuid4().hex}",
            account_id=row.id,
            amount=credits,
            kind="topup",
            note=_text(note, "a note") if note is not None else None,
        )
        written = self.write_ledger([entry], origin=origin)
        if written.rejected:
            raise StoreError(f"the ledger refused the top-up of account {row.name!r}")
        return self.account(row.id), bool(written.deltas)

    # -- keys ------------------------------------------------------------------------------
    def create_key(
        self,
        account: str | int,
        *,
        admin: bool,
        name: str = "",
        origin: str,
        limits: Limits = NO_LIMITS,
        scopes: tuple[str, ...] = (),
    ) -> tuple[str, KeyRow]:
        """Create a key and return it in clear text; this is the only time it exists in clear."""
        row = self.account(account)
        name = _text(name, "a key name")
        key = new_key()
        stamp = now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.api_keys).values(
                    account_id=row.id,
                    prefix=visible_prefix(key),
                    key_hash=hash_key(key),
                    name=name,
                    admin=admin,
                    disabled=False,
                    created_at=stamp,
                    updated_at=stamp,
                    scopes=",".join(scopes),
                    **limits.fields(),
                )
            )
            self.record_change(conn, "key", visible_prefix(key), origin)
        return key, self.key(visible_prefix(key))

    def key(self, prefix: str) -> KeyRow:
        found = self._key_where(schema.api_keys.c.prefix == prefix) if _findable(prefix) else None
        if found is None:
            raise StoreError(f"no key has the prefix {prefix!r}")
        return found

    def key_by_hash(self, key_hash: str) -> KeyRow | None:
        return self._key_where(schema.api_keys.c.key_hash == key_hash)

    def _key_where(self, condition: Any) -> KeyRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.api_keys).where(condition)).first()
        return None if row is None else _key(row)

    def list_keys(self, account_id: int | None = None) -> list[KeyRow]:
        query = select(schema.api_keys).order_by(schema.api_keys.c.id)
        if account_id is not None:
            query = query.where(schema.api_keys.c.account_id == account_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_key(r) for r in rows]

    def count_keys(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(schema.api_keys)) or 0)

    def set_key_disabled(self, prefix: str, disabled: bool, *, origin: str) -> KeyRow:
        return self.update_key(prefix, origin=origin, disabled=disabled)

    def update_key(
        self,
        prefix: str,
        *,
        origin: str,
        name: str | None = None,
        disabled: bool | None = None,
        limits: Limits | None = None,
        scopes: tuple[str, ...] | None = None,
    ) -> KeyRow:
        """Change what is given (None leaves a field as it is)."""
        if not _findable(prefix):
            raise StoreError(f"no key has the prefix {prefix!r}")
        values: dict[str, Any] = {"updated_at": now()}
        if name is not None:
            values["name"] = _text(name, "a key name")
        if disabled is not None:
            values["disabled"] = disabled
        if limits is not None:
            values.update(limits.fields())
        if scopes is not None:
            values["scopes"] = ",".join(scopes)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(schema.api_keys).where(schema.api_keys.c.prefix == prefix).values(**values)
            )
            if result.rowcount == 0:
                raise StoreError(f"no key has the prefix {prefix!r}")
            self.record_change(conn, "key", prefix, origin)
        return self.key(prefix)

    def delete_key(self, prefix: str, *, origin: str) -> None:
        """Remove a key for good (its ledger rows keep its prefix)."""
        if not _findable(prefix):
            raise StoreError(f"no key has the prefix {prefix!r}")
        with self.engine.begin() as conn:
            result = conn.execute(delete(schema.api_keys).where(schema.api_keys.c.prefix == prefix))
            if result.rowcount == 0:
                raise StoreError(f"no key has the prefix {prefix!r}")
            self.record_change(conn, "key", prefix, origin)

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
        if not _findable(response_id):
            return None
        with self.engine.connect() as conn:
            r = conn.execute(select(schema.responses).where(schema.responses.c.id == response_id)).first()
        if r is None:
            return None
        return StoredResponse(r.id, r.account_id, r.model, r.input, r.output, aware(r.created_at))

    def delete_response(self, response_id: str, account_id: int) -> bool:
        if not _findable(response_id):
            return False
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(schema.responses).where(
                    schema.responses.c.id == response_id, schema.responses.c.account_id == account_id
                )
            )
        return result.rowcount > 0

    # -- change feed -----------------------------------------------------------------------
    def record_change(self, conn: Connection, kind: str, ref: str, origin: str) -> None:
        conn.execute(insert(schema.changes).values(kind=kind, ref=ref, origin=origin, created_at=now()))

    def last_change_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.coalesce(func.max(schema.changes.c.id), 0))) or 0)

    def changes_since(self, after_id: int, *, skip_origin: str) -> tuple[list[Change], bool]:
        """The changes after `after_id` made by other processes, and whether the feed still
        reaches back to `after_id` (False: some were pruned unseen, reload everything)."""
        changes = schema.changes
        with self.engine.connect() as conn:
            oldest = conn.scalar(select(func.min(changes.c.id)))
            rows = conn.execute(
                select(changes.c.id, changes.c.kind, changes.c.ref)
                .where(changes.c.id > after_id, changes.c.origin != skip_origin)
                .order_by(changes.c.id)
            ).all()
        complete = oldest is None or oldest <= after_id + 1
        return [Change(id=r.id, kind=r.kind, ref=r.ref) for r in rows], complete

    def prune_changes(self) -> int:
        """Forget changes older than CHANGES_KEPT; returns how many went. The newest row always
        stays, so ids keep growing on every database (SQLite may reuse the ids of deleted rows)."""
        changes = schema.changes
        with self.engine.begin() as conn:
            newest = conn.scalar(select(func.max(changes.c.id)))
            if newest is None:
                return 0
            result = conn.execute(
                delete(changes).where(changes.c.created_at < now() - CHANGES_KEPT, changes.c.id < newest)
            )
        return result.rowcount


def _limits(row: Any) -> Limits:
    return Limits(
        rpm=row.rpm,
        tpm=row.tpm,
        concurrency=row.concurrency,
        budget=int(row.budget) if row.budget is not None else None,
        budget_period=row.budget_period or "month",
    )


def _account(row: Any) -> AccountRow:
    return AccountRow(
        id=row.id,
        name=row.name,
        balance=int(row.balance),
        low_balance_threshold=int(row.low_balance_threshold),
        updated_at=aware(row.updated_at),
        limits=_limits(row),
    )


def _key(row: Any) -> KeyRow:
    return KeyRow(
        id=row.id,
        account_id=row.account_id,
        prefix=row.prefix,
        key_hash=row.key_hash,
        name=row.name,
        admin=bool(row.admin),
        disabled=bool(row.disabled),
        created_at=aware(row.created_at),
        limits=_limits(row),
        scopes=tuple(s for s in (row.scopes or "").split(",") if s),
        updated_at=aware(row.updated_at) if row.updated_at else None,
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the CLI write while a server reads; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
