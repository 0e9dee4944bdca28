"""The Assistants API as the database keeps it: the assistant half of `Database` (store/db.py).

Assistants, threads, messages and run steps are rows of `assistant_objects`, each holding its
public object as JSON; runs are rows of `assistant_runs`, which the task runner leases as it does
tasks and batch requests (store/assistant_runs.py).

Every read names the account: another account's id reads as a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Table, and_, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from omnigate.store import schema
from omnigate.store.timestamps import aware, now

ACTIVE = schema.ACTIVE_RUN_STATUSES


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


def dumps(value: Any) -> str:
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
                body=dumps(obj),
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
                .values(body=dumps(obj))
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
                        body=dumps(run),
                        state=dumps(state),
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
        return run_row(row) if row is not None else None

    def list_runs(self, thread_id: str, account_id: int, page: Page) -> tuple[list[dict[str, Any]], bool]:
        r = schema.assistant_runs
        where = and_(r.c.parent_id == thread_id, r.c.account_id == account_id)
        return self._page(r, where, page, lambda row: run_row(row).body)

    def update_run_body(self, run_id: str, account_id: int, body: dict[str, Any]) -> bool:
        """A client's change (metadata): the status stays the column's."""
        r = schema.assistant_runs
        with self.engine.begin() as conn:
            done = conn.execute(
                update(r).where(r.c.id == run_id, r.c.account_id == account_id).values(body=dumps(body))
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
                    body=dumps({**body, "status": "queued"}),
                    state=dumps(state),
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
                conn.execute(update(o).where(o.c.id == step["id"]).values(body=dumps(step)))
        return True


def run_row(row: Any) -> RunRow:
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
