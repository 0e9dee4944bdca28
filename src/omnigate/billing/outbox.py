"""The ledger outbox: every settled charge on disk before the answer that reports it leaves.

Each server process appends its charges, one JSON line each, to segment files of its own in
`<data_dir>/outbox/` and holds an exclusive lock on its lock file while it lives. A segment is
deleted once every charge in it has reached the database (and Redis, where used). A process that
was killed leaves its segments and an unlocked lock file behind; the next process to start (or
any running one, on its next round) takes the lock and replays them. Replays are harmless: the
ledger ignores entry ids it already holds and Redis skips sequence numbers it already applied.

A write() to a file reaches the kernel's page cache before it returns, so a process that is
killed loses nothing it wrote; a machine that loses power can lose what the kernel had not yet
written to the disk (each segment is fsynced when sealed, at the latest one flush interval on).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from omnigate.store.rows import LedgerEntry

log = logging.getLogger(__name__)

_FIELDS = (
    "entry_id",
    "account_id",
    "amount",
    "kind",
    "key_prefix",
    "model",
    "request_id",
    "prompt_tokens",
    "completion_tokens",
    "note",
)


@dataclass(frozen=True, slots=True)
class Record:
    """One line of a segment: the ledger entry, its sequence number in this process, and the
    hold it settled (for Redis: the reservation id, the credits held, whether the key's limits
    counted the request)."""

    entry: LedgerEntry
    seq: int
    hold: str = ""
    held: int = 0
    keyed: bool = False


def encode(record: Record) -> bytes:
    entry = record.entry
    data = {name: getattr(entry, name) for name in _FIELDS}
    data["created_at"] = entry.created_at.isoformat() if entry.created_at else None
    data["seq"], data["hold"], data["held"], data["keyed"] = (
        record.seq,
        record.hold,
        record.held,
        record.keyed,
    )
    return orjson.dumps(data) + b"\n"


def decode(line: bytes) -> Record:
    data = orjson.loads(line)
    created = data.get("created_at")
    entry = LedgerEntry(
        **{name: data.get(name) for name in _FIELDS},
        created_at=datetime.fromisoformat(created) if created else None,
    )
    return Record(
        entry,
        int(data.get("seq") or 0),
        data.get("hold") or "",
        int(data.get("held") or 0),
        bool(data.get("keyed")),
    )


def read_records(path: Path) -> list[Record]:
    """A segment's records. A line cut short (the disk filled up, the machine lost power) is
    logged and skipped: the lines before and after it are still good."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:  # its process finished it after we listed it
        return []
    records = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(decode(line))
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            log.error(
                "outbox %s line %d is unreadable and was skipped (%s): %r", path, number, exc, line[:200]
            )
    return records


class Outbox:
    """This process's segments. All methods run on the event loop, except `seal`'s fsync."""

    def __init__(self, folder: Path, origin: str) -> None:
        self.folder = folder
        self.origin = origin
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment = 0
        self._written: dict[int, int] = {}  # records per live segment not yet done
        self._sealed: set[int] = set()

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # The lock comes first: a segment without a held lock looks abandoned to others.
        self._lock_fd = os.open(self._lock_path(self.origin), os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._open_segment()

    def close(self, *, clean: bool) -> None:
        """Close the files; when `clean` (every record done), remove them too."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if clean:
            for segment in list(self._written):
                self._path(segment).unlink(missing_ok=True)
            self._written.clear()
        if self._lock_fd is not None:
            if clean:
                self._lock_path(self.origin).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    def append(self, record: Record) -> int:
        """Write one record; returns the segment that holds it (for `done`)."""
        assert self._fd is not None, "outbox used before open()"
        os.write(self._fd, encode(record))
        self._written[self._segment] += 1
        return self._segment

    def seal(self) -> int | None:
        """Start a new segment when the current one holds records, so that finished segments
        can be deleted while writing goes on. Returns the sealed segment's file descriptor, for
        `sync_and_close` (in a thread: an fsync can take milliseconds)."""
        if not self._written.get(self._segment):
            return None
        sealed_fd = self._fd
        self._sealed.add(self._segment)
        self._segment += 1
        self._open_segment()
        return sealed_fd

    @staticmethod
    def sync_and_close(fd: int) -> None:
        os.fsync(fd)
        os.close(fd)

    def done(self, segments: list[int]) -> None:
        """These records (by their segments) reached every store: delete the segments they empty."""
        for segment in segments:
            if segment < 0:
                continue
            left = self._written[segment] = self._written[segment] - 1
            if left == 0 and segment in self._sealed:
                self._path(segment).unlink(missing_ok=True)
                del self._written[segment]
                self._sealed.discard(segment)

    def keep_rejected(self, records: list[Record]) -> None:
        """Entries the database refused: kept in a file of their own, replayed at the next start."""
        path = self.folder / f"{self.origin}.rejected.jsonl"
        with path.open("ab") as out:
            for record in records:
                out.write(encode(record))
            out.flush()
            os.fsync(out.fileno())

    def _open_segment(self) -> None:
        flags = os.O_CREAT | os.O_WRONLY | os.O_APPEND
        self._fd = os.open(self._path(self._segment), flags, 0o600)
        self._written[self._segment] = 0

    def _path(self, segment: int) -> Path:
        return self.folder / f"{self.origin}.{segment:08d}.jsonl"

    def _lock_path(self, origin: str) -> Path:
        return self.folder / f"{origin}.lock"


@dataclass(slots=True)
class Orphan:
    """The files a dead process left, locked by us while we replay them."""

    origin: str
    paths: list[Path]
    lock_fd: int

    def records(self) -> list[Record]:
        return [record for path in self.paths for record in read_records(path)]

    def release(self, *, replayed: bool) -> None:
        """Delete the files once replayed, and let go of the lock either way."""
        if replayed:
            for path in self.paths:
                path.unlink(missing_ok=True)
        if replayed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._lock_path())
        os.close(self.lock_fd)

    def _lock_path(self) -> Path:
        return self.paths[0].parent / f"{self.origin}.lock"


def orphans(folder: Path, own_origin: str) -> Iterator[Orphan]:
    """The outboxes of processes that are gone: no lock file, or one nobody holds."""
    if not folder.is_dir():
        return
    by_origin: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        by_origin.setdefault(path.name.split(".", 1)[0], []).append(path)
    for origin, paths in by_origin.items():
        if origin == own_origin:
            continue
        # Created when missing (its process closed cleanly but left rejected entries), so that
        # two processes never replay the same files at once.
        lock_fd = os.open(folder / f"{origin}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            continue  # its process is alive
        yield Orphan(origin, paths, lock_fd)
