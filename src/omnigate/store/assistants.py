"""The Assistants API as the database keeps it: the assistant half of `Database` (store/db.py).

Assistants, threads, messages and run steps are rows of `assistant_objects`, each holding its
public object as JSON; runs are rows of `assistant_runs`, which the task runner leases as it does
tasks and batch requests (store/leases.py): on PostgreSQL with FOR UPDATE SKIP LOCKED, so runners
on several machines never run one run together, and every write of a runner names its lease.

Every read names the account: another account's id reads as a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from omnigate.store import schema
from omnigate.store.leases import lease_free
from omnigate.store.timestamps import aware, now

ACTIVE = schema.ACTIVE_RUN_STATUSES
# The statuses a runner takes a run in (requires_action ones only once they expire).
CLAIMABLE = ("queued", "in_progress", "cancelling")


class ThreadBusy(Exception):
    """The thread already has an active run (the database's unique index said so)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list route: `order` asc|desc, `after`/`before` object ids."""

    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    id: str
    account_id: int
    thread_id: str
    key_prefix: str
    status: str
    body: dict[str, Any]  # the public object, its status included
    state: dict[str, Any]
    lease_owner: str | None
    next_run_at: datetime


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class AssistantStore:
    engine: Any

    # -- objects ------------------------------------------------------------------------------
    def save_object(
        self,
        kind: str,
        obj: dict[str, Any],
        account_id: int,
        *,
        parent_id: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            self._insert_object(conn, kind, obj, account_id, parent_id=parent_id, thread_id=thread_id)

    def save_objects(self, rows: Sequence[tuple[str, dict[str, Any], int, str | None, str | None]]) -> None:
        """Several objects in one transaction: (kind, object, account id, parent id, thread id)."""
        with self.engine.begin() as conn:
            for kind, obj, account_id, parent_id, thread_id in rows:
                self._insert_object(conn, kind, obj, account_id, parent_id=parent_id, thread_id=thread_id)

    def _insert_object(
        self,
        conn: Connection,
        kind: str,
        obj: dict[str, Any],
        account_id: int,
        *,
        parent_id: str | None,
        thread_id: str | None,
    ) -> None:
        conn.execute(
            insert(schema.assistant_objects).values(
                id=obj["id"],
                kind=kind,
                account_id=account_id,
                parent_id=parent_id,
                thread_id=thread_id,
                body=_json(obj),
                created_at=now(),
            )
        )

    def get_object(self, kind: str, object_id: str, account_id: int) -> dict[str, Any] | None:
        o = schema.assistant_objects
        if "\x00" in object_id:
            return None
        with self.engine.connect() as conn:
            body = conn.scalar(
                select(o.c.body).where(o.c.id == object_id, o.c.kind == kind, o.c.account_id == account_id)
            )
        return orjson.loads(body) if body is not None else None

    def replace_object(self, kind: str, obj: dict[str, Any], account_id: int) -> bool:
        o = schema.assistant_objects
        with self.engine.begin() as conn:
            done = conn.execute(
                update(o)
                .where(o.c.id == obj["id"], o.c.kind == kind, o.c.account_id == account_id)
                .values(body=_json(obj))
            )
        return done.rowcount == 1

    def delete_object(self, kind: str, object_id: str, account_id: int) -> bool:
        """Delete one object; a thread takes its messages, runs and steps with it."""
        o, r = schema.assistant_objects, schema.assistant_runs
        if "\x00" in object_id:
            return False
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(o).where(o.c.id == object_id, o.c.kind == kind, o.c.account_id == account_id)
            )
            if done.rowcount == 1 and kind == "thread":
                conn.execute(delete(o).where(o.c.thread_id == object_id))
                conn.execute(delete(r).where(r.c.thread_id == object_id))
        return done.rowcount == 1

    def list_objects(
        self, kind: str, account_id: int, page: Page, *, parent_id: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of objects and whether more follow."""
        o = schema.assistant_objects
        where = [o.c.kind == kind, o.c.account_id == account_id]
        if parent_id is not None:
            where.append(o.c.parent_id == parent_id)
        return self._page(o, and_(*where), page, lambda r: orjson.loads(r.body))

    def thread_messages(self, thread_id: str, account_id: int) -> list[dict[str, Any]]:
        """Every message of a thread, oldest first (what a run reads)."""
        o = schema.assistant_objects
        with self.engine.connect() as conn:
            rows = conn.scalars(
                select(o.c.body)
                .where(o.c.kind == "message", o.c.parent_id == thread_id, o.c.account_id == account_id)
                .order_by(o.c.seq)
            ).all()
        return [orjson.loads(b) for b in rows]

    def _page(
        self, table: Table, where: ColumnElement[bool], page: Page, shape: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        query = select(table).where(where)
        with self.engine.connect() as conn:
            for cursor, newer in ((page.after, page.order == "asc"), (page.before, page.order != "asc")):
                if cursor is None:
                    continue
                if "\x00" in cursor:  # no id has one (PostgreSQL would refuse to look)
                    return [], False
                seq = conn.scalar(select(table.c.seq).where(table.c.id == cursor))
                if seq is None:  # an unknown cursor: nothing is after (or before) it
                    return [], False
                query = query.where(table.c.seq > seq if newer else table.c.seq < seq)
            order = table.c.seq.asc() if page.order == "asc" else table.c.seq.desc()
            rows = conn.execute(query.order_by(order).limit(page.limit + 1)).all()
        return [shape(r) for r in rows[: page.limit]], len(rows) > page.limit

    # -- runs ---------------------------------------------------------------------------------
    def insert_run(
        self,
        run: dict[str, Any],
        *,
        account_id: int,
        key_prefix: str,
        state: dict[str, Any],
        owner: str | None,
        lease_s: float,
        objects: Sequence[tuple[str, dict[str, Any], str | None, str | None]] = (),
    ) -> None:
        """A new run (queued) with the objects made with it (a thread, its messages), in one
        transaction. `owner`: the process that runs it itself (a streamed run) takes its lease
        now. Raises ThreadBusy when the thread has an active run."""
        stamp = now()
        try:
            with self.engine.begin() as conn:
                for kind, obj, parent_id, thread_id in objects:
                    self._insert_object(conn, kind, obj, account_id, parent_id=parent_id, thread_id=thread_id)
                conn.execute(
                    insert(schema.assistant_runs).values(
                        id=run["id"],
                        account_id=account_id,
                        parent_id=run["thread_id"],
                        thread_id=run["thread_id"],
                        key_prefix=key_prefix,
                        status=run["status"],
                        body=_json(run),
                        state=_json(state),
                        next_run_at=stamp,
                        lease_owner=owner,
                        lease_until=stamp + timedelta(seconds=lease_s) if owner else None,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
        except IntegrityError as exc:
            if self.active_run(run["thread_id"]) is not None:
                raise ThreadBusy(run["thread_id"]) from exc
            raise

    def active_run(self, thread_id: str) -> str | None:
        r = schema.assistant_runs
        with self.engine.connect() as conn:
            return conn.scalar(select(r.c.id).where(r.c.thread_id == thread_id, r.c.status.in_(ACTIVE)))

    def run(self, run_id: str, account_id: int | None = None) -> RunRow | None:
        r = schema.assistant_runs
        if "\x00" in run_id:
            return None
        query = select(r).where(r.c.id == run_id)
        if account_id is not None:
            query = query.where(r.c.account_id == account_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _run(row) if row is not None else None

    def list_runs(self, thread_id: str, account_id: int, page: Page) -> tuple[list[dict[str, Any]], bool]:
        r = schema.assistant_runs
        where = and_(r.c.parent_id == thread_id, r.c.account_id == account_id)
        return self._page(r, where, page, lambda row: _run(row).body)

    def update_run_body(self, run_id: str, account_id: int, body: dict[str, Any]) -> bool:
        """A client's change (metadata): the status stays the column's."""
        r = schema.assistant_runs
        with self.engine.begin() as conn:
            done = conn.execute(
                update(r).where(r.c.id == run_id, r.c.account_id == account_id).values(body=_json(body))
            )
        return done.rowcount == 1

    def cancel_run(self, run_id: str, account_id: int) -> RunRow | None:
        """Ask an active run to stop (`cancelling`); the runner that holds it, or the next one to
        claim it, ends it `cancelled`. Returns the run as it is after."""
        r = schema.assistant_runs
        with self.engine.begin() as conn:
            conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.account_id == account_id, r.c.status.in_(ACTIVE))
                .values(status="cancelling", next_run_at=now(), updated_at=now())
            )
        return self.run(run_id, account_id)

    def continue_run(
        self,
        run_id: str,
        account_id: int,
        *,
        body: dict[str, Any],
        state: dict[str, Any],
        owner: str | None,
        lease_s: float,
        step: dict[str, Any] | None = None,
    ) -> bool:
        """Tool outputs arrived: a run in requires_action goes back to the queue (with `owner`,
        leased by the process that goes on with it itself). False when it was not waiting."""
        r = schema.assistant_runs
        stamp = now()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.account_id == account_id, r.c.status == "requires_action")
                .values(
                    status="queued",
                    body=_json({**body, "status": "queued"}),
                    state=_json(state),
                    next_run_at=stamp,
                    lease_owner=owner,
                    lease_until=stamp + timedelta(seconds=lease_s) if owner else None,
                    updated_at=stamp,
                )
            )
            if done.rowcount != 1:
                return False
            if step is not None:
                o = schema.assistant_objects
                conn.execute(update(o).where(o.c.id == step["id"]).values(body=_json(step)))
        return True

    # -- the runner ---------------------------------------------------------------------------
    def claim_runs(self, owner: str, *, limit: int, lease_s: float) -> list[RunRow]:
        """Take a lease on up to `limit` runs that are due: queued, cancelling, in progress under
        a lease that ran out (its runner stopped), or waiting for tool outputs past their expiry."""
        r = schema.assistant_runs
        stamp = now()
        due = (
            select(r.c.id)
            .where(
                lease_free(r, stamp),
                or_(
                    r.c.status.in_(CLAIMABLE),
                    and_(r.c.status == "requires_action", r.c.next_run_at <= stamp),
                ),
            )
            .order_by(r.c.next_run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            # Taken only where still free: SQLite reads the due rows without a lock.
            taken = conn.execute(
                update(r)
                .where(r.c.id.in_(ids), r.c.status.in_(ACTIVE), lease_free(r, stamp))
                .values(lease_owner=owner, lease_until=stamp + timedelta(seconds=lease_s))
                .returning(r.c.id)
            ).all()
            rows = conn.execute(select(r).where(r.c.id.in_([t.id for t in taken]))).all()
        return [_run(row) for row in rows]

    def renew_run_lease(self, run_id: str, owner: str, lease_s: float) -> str | None:
        """Keep a lease alive; returns the run's status now (`cancelling`: a client asked it to
        stop), or None when this runner no longer holds it."""
        r = schema.assistant_runs
        with self.engine.begin() as conn:
            done = conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.lease_owner == owner, r.c.status.in_(ACTIVE))
                .values(lease_until=now() + timedelta(seconds=lease_s))
            )
            if done.rowcount != 1:
                return None
            return conn.scalar(select(r.c.status).where(r.c.id == run_id))

    def write_run(
        self,
        run_id: str,
        owner: str,
        *,
        body: dict[str, Any],
        state: dict[str, Any],
        objects: Sequence[tuple[str, dict[str, Any], int, str | None, str | None]] = (),
        release: bool = False,
        next_run_at: datetime | None = None,
    ) -> bool:
        """A runner's write: the run (its status from `body`) and the messages and steps it made
        or changed (inserted, or replaced by id), in one transaction. A run a client asked to
        cancel keeps `cancelling` unless this write ends it. False, with nothing written, when
        this runner no longer holds the run or it must be cancelled instead."""
        r, o = schema.assistant_runs, schema.assistant_objects
        status = body["status"]
        stamp = now()
        values: dict[str, Any] = {
            "status": status,
            "body": _json(body),
            "state": _json(state),
            "updated_at": stamp,
        }
        if release or status not in ACTIVE:
            values.update(lease_owner=None, lease_until=None)
        if next_run_at is not None:
            values["next_run_at"] = next_run_at
        ends = status in ("cancelled", "expired", "failed", "completed", "incomplete")
        with self.engine.begin() as conn:
            guard = [r.c.id == run_id, r.c.lease_owner == owner, r.c.status.in_(ACTIVE)]
            if not ends:
                guard.append(r.c.status != "cancelling")
            done = conn.execute(update(r).where(*guard).values(**values))
            if done.rowcount != 1:
                return False
            for kind, obj, account_id, parent_id, thread_id in objects:
                replaced = conn.execute(update(o).where(o.c.id == obj["id"]).values(body=_json(obj)))
                if replaced.rowcount == 0:
                    self._insert_object(conn, kind, obj, account_id, parent_id=parent_id, thread_id=thread_id)
        return True

    def release_run_leases(self, owner: str) -> None:
        """A runner that stops gives its runs back at once instead of when their leases end."""
        r = schema.assistant_runs
        with self.engine.begin() as conn:
            conn.execute(update(r).where(r.c.lease_owner == owner).values(lease_owner=None, lease_until=None))


def _run(row: Any) -> RunRow:
    body = orjson.loads(row.body)
    body["status"] = row.status
    return RunRow(
        id=row.id,
        account_id=row.account_id,
        thread_id=row.thread_id,
        key_prefix=row.key_prefix,
        status=row.status,
        body=body,
        state=orjson.loads(row.state),
        lease_owner=row.lease_owner,
        next_run_at=aware(row.next_run_at),
    )
