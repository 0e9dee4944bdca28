"""Message batches as the database keeps them, and the leases runners take on their requests.

A batch's requests are rows of their own, each with its status and, once done, its result (the
line of the results JSONL). A runner claims due requests by setting a lease on them, as on tasks
(store/tasks.py): on PostgreSQL with FOR UPDATE SKIP LOCKED, so runners on several machines never
run one request together, and every later write names the lease owner.

A request is charged once: its runner keeps the answer and its cost (`answered`) before charging
it with the ledger entry id `batch:<batch id>:<idx>`, then marks it `succeeded`. A runner that
stops in between leaves an answered request: the next one finds the charge in the ledger (written
from the dead process's outbox) or, failing that, writes it here with the end of the request, in
one transaction. The ledger's unique entry ids make either write count once.

Every transaction that ends a request first touches its batch's row, so the writers of one batch
take turns there, and the last one to end a request sees every other one ended and ends the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from omnigate.store import schema
from omnigate.store.batch_rows import BatchRow, EntryRow, batch_row, charge_entry_id, entry_row
from omnigate.store.leases import lease_free
from omnigate.store.ledger import LedgerStore
from omnigate.store.rows import LedgerEntry
from omnigate.store.timestamps import aware, now

__all__ = ["ACTIVE", "ENDED", "BatchRow", "BatchStore", "EntryRow", "charge_entry_id"]

# A request still to run, or run and still to be charged.
ACTIVE = ("queued", "answered")
ENDED = ("succeeded", "errored", "canceled", "expired")
CANCELED_RESULT = '{"type":"canceled"}'
EXPIRED_RESULT = '{"type":"expired"}'


class BatchStore(LedgerStore):
    """The batch half of `Database` (store/db.py)."""

    def insert_batch(
        self,
        *,
        batch_id: str,
        account_id: int,
        key_prefix: str,
        request_id: str,
        expires_at: datetime,
        requests: Sequence[tuple[str, str]],
        openai: Mapping[str, str] | None = None,
    ) -> None:
        """A new batch, in progress, with its requests (custom_id, params JSON) queued; `openai`:
        the columns of an OpenAI batch (endpoint, input_file_id, completion_window, metadata)."""
        stamp = now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.batches).values(
                    id=batch_id,
                    account_id=account_id,
                    key_prefix=key_prefix,
                    request_id=request_id,
                    status="in_progress",
                    created_at=stamp,
                    updated_at=stamp,
                    expires_at=expires_at,
                    **(openai or {}),
                )
            )
            conn.execute(
                insert(schema.batch_entries),
                [
                    {
                        "batch_id": batch_id,
                        "idx": idx,
                        "custom_id": custom_id,
                        "params": params,
                        "status": "queued",
                        "next_run_at": stamp,
                        "updated_at": stamp,
                    }
                    for idx, (custom_id, params) in enumerate(requests)
                ],
            )

    def batch(self, batch_id: str) -> BatchRow | None:
        if "\x00" in batch_id:
            return None
        with self.engine.connect() as conn:
            return self._batch(conn, batch_id)

    def _batch(self, conn: Connection, batch_id: str) -> BatchRow | None:
        row = conn.execute(select(schema.batches).where(schema.batches.c.id == batch_id)).first()
        if row is None:
            return None
        e = schema.batch_entries
        counted = conn.execute(
            select(e.c.status, func.count()).where(e.c.batch_id == batch_id).group_by(e.c.status)
        )
        return batch_row(row, {status: int(n) for status, n in counted})

    def batch_results(self, batch_id: str) -> list[tuple[str, str | None]]:
        """(custom_id, result JSON) of each request, in the order they were sent."""
        e = schema.batch_entries
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e.c.custom_id, e.c.result).where(e.c.batch_id == batch_id).order_by(e.c.idx)
            )
            return [(r.custom_id, r.result) for r in rows]

    def cancel_batch(self, batch_id: str) -> BatchRow | None:
        """Cancel a batch in progress: its requests not being run end `canceled` now, those in a
        runner's hands finish. Returns the batch as it is after; an ended one is left as it was."""
        b, e = schema.batches, schema.batch_entries
        stamp = now()
        with self.engine.begin() as conn:
            started = conn.execute(
                update(b)
                .where(b.c.id == batch_id, b.c.status == "in_progress")
                .values(status="canceling", cancel_initiated_at=stamp, updated_at=stamp)
            )
            if started.rowcount == 1:
                conn.execute(
                    update(e)
                    .where(e.c.batch_id == batch_id, e.c.status == "queued", _lease_free(stamp))
                    .values(status="canceled", result=CANCELED_RESULT, updated_at=stamp)
                )
                _end_if_done(conn, batch_id, stamp)
            return self._batch(conn, batch_id)

    # -- the runner --------------------------------------------------------------------------
    def claim_batch_entries(
        self, owner: str, *, limit: int, lease_s: float, settle_after_s: float
    ) -> list[EntryRow]:
        """Take a lease on up to `limit` requests that are due: queued ones of batches in
        progress, and answered ones whose runner stopped before marking them charged, once its
        outbox has had `settle_after_s` to reach the ledger."""
        b, e = schema.batches, schema.batch_entries
        stamp = now()
        due = (
            select(e.c.batch_id, e.c.idx)
            .where(
                e.c.status.in_(ACTIVE),
                e.c.next_run_at <= stamp,
                _lease_free(stamp),
                or_(
                    and_(
                        e.c.status == "queued",
                        exists().where(b.c.id == e.c.batch_id, b.c.status == "in_progress"),
                    ),
                    and_(
                        e.c.status == "answered", e.c.updated_at < stamp - timedelta(seconds=settle_after_s)
                    ),
                ),
            )
            .order_by(e.c.next_run_at, e.c.batch_id, e.c.idx)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            keys = [tuple(r) for r in conn.execute(due)]
            if not keys:
                return []
            # Taken only where still free: SQLite reads the due rows without a lock.
            taken = conn.execute(
                update(e)
                .where(tuple_(e.c.batch_id, e.c.idx).in_(keys), e.c.status.in_(ACTIVE), _lease_free(stamp))
                .values(lease_owner=owner, lease_until=stamp + timedelta(seconds=lease_s))
                .returning(e.c.batch_id, e.c.idx)
            ).all()
            if not taken:
                return []
            rows = conn.execute(
                select(e, b.c.account_id, b.c.key_prefix, b.c.endpoint)
                .join(b, b.c.id == e.c.batch_id)
                .where(tuple_(e.c.batch_id, e.c.idx).in_([tuple(t) for t in taken]))
            ).all()
        return [entry_row(r) for r in rows]

    def renew_entry_lease(self, batch_id: str, idx: int, owner: str, lease_s: float) -> bool:
        e = schema.batch_entries
        with self.engine.begin() as conn:
            done = conn.execute(
                update(e)
                .where(_this(batch_id, idx), e.c.lease_owner == owner, e.c.status.in_(ACTIVE))
                .values(lease_until=now() + timedelta(seconds=lease_s))
            )
        return done.rowcount == 1

    def entry_answered(
        self,
        entry: EntryRow,
        owner: str,
        *,
        result: str,
        cost: int,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> bool:
        """Keep a request's answer and what it costs before it is charged; False when this runner
        no longer holds it."""
        e = schema.batch_entries
        with self.engine.begin() as conn:
            done = conn.execute(
                update(e)
                .where(_this(entry.batch_id, entry.idx), e.c.lease_owner == owner, e.c.status == "queued")
                .values(
                    status="answered",
                    result=result,
                    cost=cost,
                    model=model,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    updated_at=now(),
                )
            )
        return done.rowcount == 1

    def end_entry(
        self,
        entry: EntryRow,
        owner: str,
        *,
        status: str,
        result: str | None = None,
        charge: LedgerEntry | None = None,
        origin: str = "",
    ) -> bool:
        """End a request (succeeded, errored, canceled); with `charge`, write that ledger row in
        the same transaction. Ends the batch when it was its last request. False (nothing
        written) when this runner no longer holds the request."""
        e = schema.batch_entries
        stamp = now()
        values: dict = {"status": status, "lease_owner": None, "lease_until": None, "updated_at": stamp}
        if result is not None:
            values["result"] = result
        with self.engine.begin() as conn:
            _touch(conn, entry.batch_id, stamp)
            done = conn.execute(
                update(e)
                .where(_this(entry.batch_id, entry.idx), e.c.lease_owner == owner, e.c.status.in_(ACTIVE))
                .values(**values)
            )
            if done.rowcount != 1:
                return False
            if charge is not None:
                self._insert(conn, [charge], origin)
            _end_if_done(conn, entry.batch_id, stamp)
        return True

    def postpone_entry(self, entry: EntryRow, owner: str, delay_s: float) -> bool:
        """Run a request again later (a rate limit said when); a canceled batch's ends instead."""
        b, e = schema.batches, schema.batch_entries
        stamp = now()
        with self.engine.begin() as conn:
            status = conn.scalar(select(b.c.status).where(b.c.id == entry.batch_id))
            if status != "in_progress":
                _touch(conn, entry.batch_id, stamp)
                values: dict = {"status": "canceled", "result": CANCELED_RESULT}
            else:
                values = {"next_run_at": stamp + timedelta(seconds=delay_s)}
            done = conn.execute(
                update(e)
                .where(_this(entry.batch_id, entry.idx), e.c.lease_owner == owner, e.c.status == "queued")
                .values(lease_owner=None, lease_until=None, updated_at=stamp, **values)
            )
            if status != "in_progress":
                _end_if_done(conn, entry.batch_id, stamp)
        return done.rowcount == 1

    def release_entry_leases(self, owner: str) -> None:
        """A runner that stops gives its requests back at once instead of when their leases end."""
        e = schema.batch_entries
        with self.engine.begin() as conn:
            conn.execute(update(e).where(e.c.lease_owner == owner).values(lease_owner=None, lease_until=None))

    def sweep_batches(self) -> int:
        """Requests not run by their batch's expiry end `expired`; those of canceled batches that
        went back to the queue end `canceled`; batches with no request left end. Returns how many
        batches ended."""
        b, e = schema.batches, schema.batch_entries
        stamp = now()
        ended = 0
        with self.engine.begin() as conn:
            open_batches = conn.execute(
                select(b.c.id, b.c.status, b.c.expires_at).where(b.c.status != "ended")
            ).all()
            for batch_id, status, expires_at in open_batches:
                if aware(expires_at) <= stamp:
                    result = EXPIRED_RESULT
                    final = "expired"
                elif status == "canceling":
                    result, final = CANCELED_RESULT, "canceled"
                else:
                    continue
                _touch(conn, batch_id, stamp)
                conn.execute(
                    update(e)
                    .where(e.c.batch_id == batch_id, e.c.status == "queued", _lease_free(stamp))
                    .values(status=final, result=result, updated_at=stamp)
                )
                ended += _end_if_done(conn, batch_id, stamp)
        return ended


def _this(batch_id: str, idx: int) -> ColumnElement[bool]:
    e = schema.batch_entries
    return and_(e.c.batch_id == batch_id, e.c.idx == idx)


def _lease_free(stamp: datetime) -> ColumnElement[bool]:
    return lease_free(schema.batch_entries, stamp)


def _touch(conn: Connection, batch_id: str, stamp: datetime) -> None:
    """Lock the batch's row (PostgreSQL), so that the writers ending its requests take turns."""
    b = schema.batches
    conn.execute(update(b).where(b.c.id == batch_id).values(updated_at=stamp))


def _end_if_done(conn: Connection, batch_id: str, stamp: datetime) -> int:
    b, e = schema.batches, schema.batch_entries
    active = exists().where(e.c.batch_id == batch_id, e.c.status.in_(ACTIVE))
    done = conn.execute(
        update(b)
        .where(b.c.id == batch_id, b.c.status != "ended", ~active)
        .values(status="ended", ended_at=stamp, updated_at=stamp)
    )
    return done.rowcount
