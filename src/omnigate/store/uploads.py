"""Files users upload (POST /v1/files) and files the gateway writes for them (a batch's output):
the files half of `Database` (store/db.py).

The bytes are kept in the database, beside their metadata, so that every replica reads the same
file without shared storage, and a file is written whole or not at all (one transaction).
A file past its `expires_at` is as good as deleted: no lookup finds it, and each new upload
sweeps the expired rows away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, insert, or_, select
from sqlalchemy.engine import Connection

from omnigate.store import schema
from omnigate.store.timestamps import aware, now


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str  # file-...
    account_id: int
    filename: str
    purpose: str
    bytes: int
    content_type: str
    created_at: datetime
    expires_at: datetime | None = None


def _row(r: Any) -> UploadRow:
    return UploadRow(
        id=r.id,
        account_id=r.account_id,
        filename=r.filename,
        purpose=r.purpose,
        bytes=r.bytes,
        content_type=r.content_type,
        created_at=aware(r.created_at),
        expires_at=aware(r.expires_at) if r.expires_at is not None else None,
    )


def _live() -> Any:
    t = schema.uploads
    return or_(t.c.expires_at.is_(None), t.c.expires_at > now())


def insert_upload(conn: Connection, row: UploadRow, content: bytes) -> None:
    """A file and its bytes, within the caller's transaction."""
    conn.execute(
        insert(schema.uploads).values(
            id=row.id,
            account_id=row.account_id,
            # PostgreSQL refuses NUL characters in text; no file name needs one.
            filename=row.filename.replace("\x00", ""),
            purpose=row.purpose,
            bytes=row.bytes,
            content_type=row.content_type.replace("\x00", ""),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )
    )
    conn.execute(insert(schema.upload_contents).values(file_id=row.id, content=content))


class UploadStore:
    engine: Engine

    def save_upload(self, row: UploadRow, content: bytes) -> None:
        with self.engine.begin() as conn:
            expired = select(schema.uploads.c.id).where(schema.uploads.c.expires_at <= now())
            conn.execute(delete(schema.upload_contents).where(schema.upload_contents.c.file_id.in_(expired)))
            conn.execute(delete(schema.uploads).where(schema.uploads.c.expires_at <= now()))
            insert_upload(conn, row, content)

    def upload(self, file_id: str, account_id: int) -> UploadRow | None:
        """The account's live file of that id; None when missing, expired or another's."""
        if "\x00" in file_id:
            return None
        t = schema.uploads
        with self.engine.connect() as conn:
            r = conn.execute(
                select(t).where(t.c.id == file_id, t.c.account_id == account_id, _live())
            ).first()
        return _row(r) if r is not None else None

    def upload_content(self, file_id: str) -> bytes:
        t = schema.upload_contents
        with self.engine.connect() as conn:
            content = conn.scalar(select(t.c.content).where(t.c.file_id == file_id))
        if content is None:
            raise KeyError(file_id)
        return bytes(content)

    def list_uploads(
        self,
        account_id: int,
        *,
        purpose: str | None = None,
        limit: int = 10_000,
        order: Literal["asc", "desc"] = "desc",
        after: str | None = None,
    ) -> list[UploadRow]:
        """The account's live files by creation time, up to `limit` of them, after the file `after`
        (in that order; an unknown `after` gives an empty page)."""
        t = schema.uploads
        query = select(t).where(t.c.account_id == account_id, _live())
        if purpose:
            query = query.where(t.c.purpose == purpose)
        newest_first = order == "desc"
        if after:
            mark = self.upload(after, account_id)
            if mark is None:
                return []
            # Past the mark in the page's order: by time, then by id among equal times.
            if newest_first:
                past = (t.c.created_at < mark.created_at) | (
                    (t.c.created_at == mark.created_at) & (t.c.id < mark.id)
                )
            else:
                past = (t.c.created_at > mark.created_at) | (
                    (t.c.created_at == mark.created_at) & (t.c.id > mark.id)
                )
            query = query.where(past)
        keys = (t.c.created_at.desc(), t.c.id.desc()) if newest_first else (t.c.created_at, t.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(*keys).limit(limit)).all()
        return [_row(r) for r in rows]

    def delete_upload(self, file_id: str, account_id: int) -> bool:
        """Delete the account's file and its bytes; False when it has no such file."""
        if self.upload(file_id, account_id) is None:
            return False
        with self.engine.begin() as conn:
            conn.execute(delete(schema.upload_contents).where(schema.upload_contents.c.file_id == file_id))
            gone = conn.execute(
                delete(schema.uploads).where(
                    schema.uploads.c.id == file_id, schema.uploads.c.account_id == account_id
                )
            )
        return bool(gone.rowcount)
