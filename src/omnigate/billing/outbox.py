"""The ledger outbox: every settled charge on disk before the answer that reports it leaves.

Each server process appends its charges, one JSON line each, to segment files of its own in
`<data_dir>/outbox/` and holds an exclusive lock on its lock file while it lives. A segment is
deleted once every charge in it has reached the database (and Redis, where used). A process that
was killed leaves its segments and an unlocked lock file behind; the next process to start (or
any running one, on its next round) takes the lock and replays them. Replays are harmless: the
ledger ignores entry ids it already holds and Redis skips sequence numbers it already applied.

A write() to a file reaches the kernel's page cache before it returns, so a process that is
killed loses nothing it wrote. A machine that loses power can lose what the kernel had not yet
written to the disk: the charges not yet in the database (one flush interval) whose segment was
not yet sealed and fsynced (about every second).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from omnigate.store.rows import LedgerEntry

log = logging.getLogger(__name__)
# A new segment starts at most this often (a later flush deletes the old one once its records are
# in the ledger). Each sealed segment is fsynced; what is not yet sealed is in the page cache.
SEAL_EVERY_S = 1.0


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


# A line is a JSON array in this order (an array, not an object: it is written on every request).
_VERSION = 1


def encode(record: Record) -> bytes:
    e = record.entry
    created = e.created_at.timestamp() if e.created_at else None
    line = [_VERSION, *e.columns(), created, record.seq, record.hold, record.held, record.keyed]
    return orjson.dumps(line) + b"\n"


def decode(line: bytes) -> Record:
    fields = orjson.loads(line)
    if fields[0] != _VERSION:
        raise ValueError(f"unknown outbox line version {fields[0]!r}")
    created = fields[11]
    entry = LedgerEntry(
        *fields[1:11], created_at=datetime.fromtimestamp(created, UTC) if created is not None else None
    )
    return Record(entry, *fields[12:16])


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
        except (orjson.JSONDecodeError, TypeError, ValueError, IndexError) as exc:
            log.error(
                "outbox %s line %d is unreadable and was skipped (%s): %r", path, number, exc, line[:200]
            )
    return records


class Outbox:
    """This process's segments. All methods run on the event loop, except `sync_and_close`."""

    def __init__(self, folder: Path, origin: str, *, seal_every_s: float = SEAL_EVERY_S) -> None:
        self.folder = folder
        self.origin = origin
        self.seal_every_s = seal_every_s
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment = 0
        self._opened_at = 0.0
        self._appended = False  # the current segment has records
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
        self._appended = True
        return self._segment

    def seal(self) -> int | None:
        """Start a new segment when the current one holds records and is `seal_every_s` old, so
        that finished segments can be deleted while writing goes on. Returns the sealed segment's
        file descriptor when some of its records are still on their way, for `sync_and_close`
        (in a thread: an fsync takes milliseconds)."""
        if not self._appended or time.monotonic() - self._opened_at < self.seal_every_s:
            return None
        sealed, sealed_fd = self._segment, self._fd
        assert sealed_fd is not None
        self._segment += 1
        self._open_segment()
        if self._written[sealed] == 0:  # every record in it is done already
            os.close(sealed_fd)
            self._path(sealed).unlink(missing_ok=True)
            del self._written[sealed]
            return None
        self._sealed.add(sealed)
        return sealed_fd

    @staticmethod
    def sync_and_close(fd: int) -> None:
        os.fsync(fd)
        os.close(fd)

    def done(self, counts: dict[int, int]) -> None:
        """This many records of each segment reached every store: delete the segments emptied."""
        for segment, count in counts.items():
            if segment < 0:
                continue
            left = self._written[segment] = self._written[segment] - count
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
        self._opened_at = time.monotonic()
        self._appended = False

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
