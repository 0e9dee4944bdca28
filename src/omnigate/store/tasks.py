"""Asynchronous generations as the database keeps them, and the leases runners take on them.

A runner claims due tasks by setting a lease on them (on PostgreSQL with FOR UPDATE SKIP LOCKED,
so runners on several machines never claim one task together; SQLite has one writer at a time).
Every later write of the runner names it as the lease owner: a runner whose lease ran out and
was taken over writes nothing. A task ends in one transaction with the ledger row that gives its
credits back, so no task is refunded twice, whatever the number of runners or restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row

from omnigate.store import schema
from omnigate.store.leases import lease_free
from omnigate.store.ledger import LedgerStore
from omnigate.store.rows import LedgerEntry
from omnigate.store.timestamps import aware, now

ACTIVE = ("queued", "generating")
FINAL = ("completed", "error")


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: str
    account_id: int
    key_prefix: str
    family: str
    model: str
    request_id: str
    status: str
    body: str  # JSON
    provider: str | None
    upstream_model: str | None
    upstream_id: str | None
    charged: int | None
    refunded: int | None
    mirrored: bool
    result: str | None  # JSON
    error: str | None
    polls: int
    next_poll_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def uuid(self) -> str:
        """The id without its model: what ledger entry ids name the task by."""
        return self.id.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class TaskInput:
    """A file sent with a task that the runner runs itself."""

    field: str
    filename: str
    content_type: str
    data: bytes


def charge_entry_id(task_uuid: str) -> str:
    return f"task:{task_uuid}:charge"


def refund_entry_id(task_uuid: str) -> str:
    return f"task:{task_uuid}:refund"


class TaskStore(LedgerStore):
    """The task half of `Database` (store/db.py); it writes refunds through the ledger's insert."""

    def insert_task(
        self,
        *,
        task_id: str,
        account_id: int,
        key_prefix: str,
        family: str,
        model: str,
        request_id: str,
        status: str,
        body: str,
        provider: str | None,
        upstream_model: str | None,
        upstream_id: str | None,
        first_poll_s: float,
        inputs: tuple[TaskInput, ...] = (),
    ) -> None:
        stamp = now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.tasks).values(
                    id=task_id,
                    account_id=account_id,
                    key_prefix=key_prefix,
                    family=family,
                    model=model,
                    request_id=request_id,
                    status=status,
                    body=body,
                    provider=provider,
                    upstream_model=upstream_model,
                    upstream_id=upstream_id,
                    mirrored=False,
                    polls=0,
                    next_poll_at=stamp + timedelta(seconds=first_poll_s),
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            for item in inputs:
                conn.execute(
                    insert(schema.task_inputs).values(
                        task_id=task_id,
                        field=item.field,
                        filename=item.filename,
                        content_type=item.content_type,
                        data=item.data,
                    )
                )

    def task_inputs(self, task_id: str) -> list[TaskInput]:
        ti = schema.task_inputs
        with self.engine.connect() as conn:
            rows = conn.execute(select(ti).where(ti.c.task_id == task_id)).all()
        return [TaskInput(r.field, r.filename, r.content_type, bytes(r.data)) for r in rows]

    def set_task_charged(self, task_id: str, charged: int) -> None:
        """The creation charge is recorded (in this process's outbox, on its way to the ledger)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.tasks)
                .where(schema.tasks.c.id == task_id, schema.tasks.c.charged.is_(None))
                .values(charged=charged, updated_at=now())
            )

    def task(self, task_id: str) -> TaskRow | None:
        if "\x00" in task_id:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.tasks).where(schema.tasks.c.id == task_id)).first()
        return _task(row) if row is not None else None

    def list_tasks(
        self, *, account_id: int | None = None, status: str | None = None, limit: int = 50
    ) -> list[TaskRow]:
        query = select(schema.tasks).order_by(schema.tasks.c.created_at.desc()).limit(limit)
        if account_id is not None:
            query = query.where(schema.tasks.c.account_id == account_id)
        if status is not None:
            query = query.where(schema.tasks.c.status == status)
        with self.engine.connect() as conn:
            return [_task(r) for r in conn.execute(query)]

    def unfinished_tasks(self) -> dict[str, int]:
        """How many tasks are queued and generating (the runners' backlog)."""
        status = schema.tasks.c.status
        query = select(status, func.count()).where(status.in_(ACTIVE)).group_by(status)
        with self.engine.connect() as conn:
            found = {row[0]: row[1] for row in conn.execute(query)}
        return {name: found.get(name, 0) for name in ACTIVE}

    def ledger_amount(self, entry_id: str) -> int | None:
        """The amount of one ledger entry, or None when it is not in the ledger."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(schema.ledger.c.amount).where(schema.ledger.c.entry_id == entry_id))
        return int(value) if value is not None else None

    # -- the runner --------------------------------------------------------------------------
    def claim_tasks(
        self, owner: str, *, limit: int, lease_s: float, unsettled_after_s: float
    ) -> list[TaskRow]:
        """Take a lease on up to `limit` tasks that are due: active, their next poll time come,
        nobody's lease alive, and their creation charge recorded (or its writer gone for
        `unsettled_after_s`: the runner then finds out whether it was)."""
        t = schema.tasks
        stamp = now()
        due = (
            select(t.c.id)
            .where(
                t.c.status.in_(ACTIVE),
                t.c.next_poll_at <= stamp,
                lease_free(t, stamp),
                or_(
                    t.c.charged.is_not(None),
                    t.c.created_at < stamp - timedelta(seconds=unsettled_after_s),
                ),
            )
            .order_by(t.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            # The lease is taken only where it is still free: SQLite reads the due rows without
            # a lock, so another runner may have taken some since (PostgreSQL locked them).
            taken = (
                conn.execute(
                    update(t)
                    .where(
                        t.c.id.in_(ids),
                        t.c.status.in_(ACTIVE),
                        lease_free(t, stamp),
                    )
                    .values(lease_owner=owner, lease_until=stamp + timedelta(seconds=lease_s))
                    .returning(t.c.id)
                )
                .scalars()
                .all()
            )
            if not taken:
                return []
            rows = conn.execute(select(t).where(t.c.id.in_(taken))).all()
        return [_task(r) for r in rows]

    def renew_lease(self, task_id: str, owner: str, lease_s: float) -> bool:
        """Keep a task a runner is still working on; False when the lease was lost."""
        t = schema.tasks
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(t.c.id == task_id, t.c.lease_owner == owner, t.c.status.in_(ACTIVE))
                .values(lease_until=now() + timedelta(seconds=lease_s))
            )
        return done.rowcount == 1

    def task_progress(
        self,
        task_id: str,
        owner: str,
        *,
        status: str,
        next_poll_s: float,
        charged: int | None = None,
    ) -> bool:
        """A task goes on (queued or generating): the next poll is due in `next_poll_s`, the lease
        ends. `charged`: the creation charge, as the runner found it in the ledger."""
        t = schema.tasks
        stamp = now()
        values: dict = {
            "status": status,
            "polls": t.c.polls + 1,
            "next_poll_at": stamp + timedelta(seconds=next_poll_s),
            "lease_owner": None,
            "lease_until": None,
            "updated_at": stamp,
        }
        if charged is not None:
            values["charged"] = charged
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(t.c.id == task_id, t.c.lease_owner == owner, t.c.status.in_(ACTIVE))
                .values(**values)
            )
        return done.rowcount == 1

    def finish_task(
        self,
        task_id: str,
        owner: str,
        *,
        status: str,
        result: str | None,
        error: str | None,
        charged: int,
        refund: LedgerEntry,
        origin: str,
    ) -> bool:
        """End a task and write the ledger row that gives back `refund.amount` credits, in one
        transaction; False (nothing written) when this runner no longer holds the task."""
        t = schema.tasks
        stamp = now()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(t.c.id == task_id, t.c.lease_owner == owner, t.c.status.in_(ACTIVE))
                .values(
                    status=status,
                    result=result,
                    error=error,
                    charged=charged,
                    refunded=refund.amount,
                    mirrored=False,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=stamp,
                    finished_at=stamp,
                )
            )
            if done.rowcount != 1:
                return False
            self._insert(conn, [refund], origin)
            conn.execute(delete(schema.task_inputs).where(schema.task_inputs.c.task_id == task_id))
        return True

    def release_leases(self, owner: str) -> None:
        """A runner that stops gives its tasks back at once instead of when their leases end."""
        t = schema.tasks
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.lease_owner == owner).values(lease_owner=None, lease_until=None))

    def unmirrored_tasks(self, limit: int = 100) -> list[TaskRow]:
        """Ended tasks whose refund the live balances may not show yet (their runner stopped
        between the two steps)."""
        t = schema.tasks
        query = select(t).where(t.c.status.in_(FINAL), t.c.mirrored.is_(False)).limit(limit)
        with self.engine.connect() as conn:
            return [_task(r) for r in conn.execute(query)]

    def mark_mirrored(self, task_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(schema.tasks).where(schema.tasks.c.id == task_id).values(mirrored=True))

    def prune_tasks(self, finished_before: datetime) -> int:
        """Forget ended tasks whose results are past keeping (their ledger rows stay)."""
        t = schema.tasks
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(t).where(
                    and_(t.c.status.in_(FINAL), t.c.mirrored.is_(True), t.c.finished_at < finished_before)
                )
            )
        return done.rowcount


def _task(row: Row) -> TaskRow:
    return TaskRow(
        id=row.id,
        account_id=row.account_id,
        key_prefix=row.key_prefix,
        family=row.family,
        model=row.model,
        request_id=row.request_id,
        status=row.status,
        body=row.body,
        provider=row.provider,
        upstream_model=row.upstream_model,
        upstream_id=row.upstream_id,
        charged=row.charged,
        refunded=row.refunded,
        mirrored=bool(row.mirrored),
        result=row.result,
        error=row.error,
        polls=row.polls,
        next_poll_at=aware(row.next_poll_at),
        lease_owner=row.lease_owner,
        lease_until=aware(row.lease_until) if row.lease_until is not None else None,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        finished_at=aware(row.finished_at) if row.finished_at is not None else None,
    )
