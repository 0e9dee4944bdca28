"""What OpenAI's file-based batches add to the batch store (store/batches.py): their pages, and
their files, written once every request has ended.

A batch of either kind runs the same way (the same rows, leases and charges); an OpenAI batch
then ends with its output and error files, uploads of its account. Their ids are derived from the
batch's, and `finalize_batch` writes them with the batch's `finalized_at` in one transaction that
first claims the batch (only one writer finds it unfinalized), so two runners finishing it at once,
or a runner that dies half-way, never write them twice or half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection

from omnigate.store import schema
from omnigate.store.batch_rows import BatchRow, batch_row
from omnigate.store.timestamps import now
from omnigate.store.uploads import UploadRow, insert_upload


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request of a batch ended, for its line of the output or error file."""

    idx: int
    custom_id: str
    status: str
    result: str | None  # JSON


class OpenAIBatchStore:
    engine: Engine

    def openai_batches(self, account_id: int, *, limit: int, after: str | None = None) -> list[BatchRow]:
        """The account's OpenAI batches, newest first, after the batch `after` (an unknown or
        another account's `after` gives an empty page)."""
        b = schema.batches
        query = select(b).where(b.c.account_id == account_id, b.c.endpoint.is_not(None))
        with self.engine.connect() as conn:
            if after:
                mark = conn.execute(
                    select(b.c.created_at, b.c.id).where(
                        b.c.id == after.replace("\x00", ""), b.c.account_id == account_id
                    )
                ).first()
                if mark is None:
                    return []
                same_time = (b.c.created_at == mark.created_at) & (b.c.id < mark.id)
                query = query.where((b.c.created_at < mark.created_at) | same_time)
            rows = conn.execute(query.order_by(b.c.created_at.desc(), b.c.id.desc()).limit(limit)).all()
            counts = _counts(conn, [r.id for r in rows])
        return [batch_row(r, counts.get(r.id, {})) for r in rows]

    def batches_to_finalize(self) -> list[str]:
        """OpenAI batches whose requests have all ended and whose files are still to write."""
        b = schema.batches
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(b.c.id).where(
                    b.c.status == "ended", b.c.endpoint.is_not(None), b.c.finalized_at.is_(None)
                )
            )
            return [r.id for r in rows]

    def batch_outcomes(self, batch_id: str) -> list[Outcome]:
        """How each request ended, in the order of the input file."""
        e = schema.batch_entries
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e.c.idx, e.c.custom_id, e.c.status, e.c.result)
                .where(e.c.batch_id == batch_id)
                .order_by(e.c.idx)
            )
            return [Outcome(r.idx, r.custom_id, r.status, r.result) for r in rows]

    def finalize_batch(
        self,
        batch_id: str,
        *,
        output: tuple[UploadRow, bytes],
        errors: tuple[UploadRow, bytes] | None,
    ) -> bool:
        """Write an ended batch's files and mark it finalized, all at once; False (nothing
        written) when another writer did it already."""
        b = schema.batches
        with self.engine.begin() as conn:
            # The claim: on PostgreSQL a second writer waits on the row lock, then finds it set.
            claimed = conn.execute(
                update(b)
                .where(b.c.id == batch_id, b.c.status == "ended", b.c.finalized_at.is_(None))
                .values(
                    output_file_id=output[0].id,
                    error_file_id=errors[0].id if errors is not None else None,
                    finalized_at=now(),
                )
            )
            if claimed.rowcount != 1:
                return False
            for row, content in (output, errors) if errors is not None else (output,):
                insert_upload(conn, row, content)
        return True


def _counts(conn: Connection, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Requests per status of each batch."""
    e = schema.batch_entries
    out: dict[str, dict[str, int]] = {}
    if not batch_ids:
        return out
    rows = conn.execute(
        select(e.c.batch_id, e.c.status, func.count())
        .where(e.c.batch_id.in_(batch_ids))
        .group_by(e.c.batch_id, e.c.status)
    )
    for batch_id, status, n in rows:
        out.setdefault(batch_id, {})[status] = int(n)
    return out
