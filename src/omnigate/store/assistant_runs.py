"""The leases task runners take on assistant runs: the runner half of the Assistants store, as on
tasks and batch requests (store/leases.py). On PostgreSQL a claim takes rows FOR UPDATE SKIP
LOCKED, so runners on several machines never run one run together, and every write of a runner
names its lease, so one that lost it writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from omnigate.store import schema
from omnigate.store.assistants import ACTIVE, AssistantStore, RunRow, dumps, run_row
from omnigate.store.leases import lease_free
from omnigate.store.timestamps import now

# The statuses a runner takes a run in (requires_action ones only once they expire).
CLAIMABLE = ("queued", "in_progress", "cancelling")


class AssistantRunStore(AssistantStore):
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
        return [run_row(row) for row in rows]

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
            "body": dumps(body),
            "state": dumps(state),
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
                replaced = conn.execute(update(o).where(o.c.id == obj["id"]).values(body=dumps(obj)))
                if replaced.rowcount == 0:
                    self._insert_object(conn, kind, obj, account_id, parent_id=parent_id, thread_id=thread_id)
        return True

    def release_run_leases(self, owner: str) -> None:
        """A runner that stops gives its runs back at once instead of when their leases end."""
        r = schema.assistant_runs
        with self.engine.begin() as conn:
            conn.execute(update(r).where(r.c.lease_owner == owner).values(lease_owner=None, lease_until=None))
