"""The file_search index (knowledge/): the knowledge half of `Database` (store/db.py).

A file is indexed once. The search that first needs it claims the file's `file_indexes` row (an
insert, unique by file id, or a take-over of a lease its holder let lapse); the others see it
`indexing` and wait. The holder writes every chunk and marks the row `ready` in one
transaction, so a search never reads half an index. The rows hang off the upload's (foreign keys
ON DELETE CASCADE): deleting the upload, or its expiry, deletes its index and chunks, and a
search still indexing it then finds its claim gone and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from sqlalchemy import Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from omnigate.store import schema
from omnigate.store.timestamps import now


class Claim(Enum):
    READY = "ready"  # indexed with this model: read it
    CLAIMED = "claimed"  # the caller holds the lease: it indexes the file
    BUSY = "busy"  # another search is indexing it under a live lease: wait
    GONE = "gone"  # the upload was deleted: nothing to index


@dataclass(frozen=True, slots=True)
class StoredChunk:
    file_id: str
    idx: int
    text: str
    vector: bytes  # little-endian float32, L2-normalised (knowledge/vectors.py)


class KnowledgeStore:
    engine: Engine

    def claim_file_index(self, file_id: str, *, model: str, owner: str, lease_s: float) -> Claim:
        """Whether the file is indexed with `model`, or the caller now indexes it, or someone else
        does, or the upload is gone. An index made with another model (the config changed) is
        taken over and rebuilt."""
        t = schema.file_indexes
        for _ in range(3):
            stamp = now()
            lease = {
                "lease_owner": owner,
                "lease_until": stamp + timedelta(seconds=lease_s),
                "updated_at": stamp,
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(t).values(file_id=file_id, model=model, status="indexing", **lease))
                return Claim.CLAIMED
            except IntegrityError:
                pass  # the row exists (ready, or being indexed), or the upload does not
            with self.engine.begin() as conn:
                # One statement, so two searches cannot both take over: the second one's WHERE no
                # longer holds once the first one's update is in.
                taken = conn.execute(
                    update(t)
                    .where(
                        t.c.file_id == file_id,
                        or_(
                            and_(t.c.status == "indexing", t.c.lease_until < stamp),
                            and_(t.c.status == "ready", t.c.model != model),
                        ),
                    )
                    .values(status="indexing", model=model, **lease)
                ).rowcount
                if taken:
                    return Claim.CLAIMED
                row = conn.execute(select(t.c.status, t.c.model).where(t.c.file_id == file_id)).first()
                if row is not None:
                    return Claim.READY if (row.status, row.model) == ("ready", model) else Claim.BUSY
                uploads = schema.uploads
                if conn.scalar(select(uploads.c.id).where(uploads.c.id == file_id)) is None:
                    return Claim.GONE
            # No row, the upload there: its holder gave the claim up in between; claim it again.
        return Claim.BUSY  # holders keep giving up: wait, and try again

    def renew_file_claim(self, file_id: str, owner: str, lease_s: float) -> bool:
        """Keep indexing a long file; False when the lease was lost (taken over, or forgotten)."""
        t = schema.file_indexes
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(t.c.file_id == file_id, t.c.lease_owner == owner, t.c.status == "indexing")
                .values(lease_until=now() + timedelta(seconds=lease_s))
            )
        return done.rowcount == 1

    def drop_file_claim(self, file_id: str, owner: str) -> None:
        """Give up indexing (the embedding failed): the next search claims the file at once."""
        t = schema.file_indexes
        with self.engine.begin() as conn:
            conn.execute(
                delete(t).where(t.c.file_id == file_id, t.c.lease_owner == owner, t.c.status == "indexing")
            )

    def finish_file_index(self, file_id: str, owner: str, chunks: list[tuple[str, bytes]]) -> bool:
        """Store the chunks and mark the index ready, if the caller still holds its lease."""
        t, c = schema.file_indexes, schema.file_chunks
        with self.engine.begin() as conn:
            held = conn.execute(
                update(t)
                .where(t.c.file_id == file_id, t.c.lease_owner == owner, t.c.status == "indexing")
                .values(
                    status="ready", chunks=len(chunks), lease_owner=None, lease_until=None, updated_at=now()
                )
            ).rowcount
            if not held:
                return False
            conn.execute(delete(c).where(c.c.file_id == file_id))  # a rebuilt index's old chunks
            if chunks:
                conn.execute(
                    insert(c),
                    [
                        {"file_id": file_id, "idx": i, "text": text, "vector": vector}
                        for i, (text, vector) in enumerate(chunks)
                    ],
                )
        return True

    def indexed_chunks(self, file_ids: list[str], model: str) -> list[StoredChunk]:
        """The chunks of those files whose index is ready and made with `model`."""
        t, c = schema.file_indexes, schema.file_chunks
        if not file_ids:
            return []
        query = (
            select(c.c.file_id, c.c.idx, c.c.text, c.c.vector)
            .join(t, t.c.file_id == c.c.file_id)
            .where(t.c.file_id.in_(file_ids), t.c.status == "ready", t.c.model == model)
            .order_by(c.c.file_id, c.c.idx)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [StoredChunk(r.file_id, r.idx, r.text, bytes(r.vector)) for r in rows]
