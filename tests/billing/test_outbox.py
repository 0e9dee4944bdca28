"""The outbox on a real folder: segments, their deletion, and what a dead process leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from omnigate.billing.outbox import Outbox, Record, decode, encode, orphans, read_records
from omnigate.store.rows import LedgerEntry


def record(seq: int) -> Record:
    entry = LedgerEntry(
        entry_id=f"w-{seq}",
        account_id=1,
        amount=-seq,
        kind="charge",
        key_prefix="og-k",
        model="m",
        request_id=f"r{seq}",
        prompt_tokens=1,
        completion_tokens=2,
        created_at=datetime.now(UTC),
    )
    return Record(entry, seq, f"w.{seq}", seq * 2, seq % 2 == 0)


def test_a_record_reads_back_as_written() -> None:
    original = record(7)
    assert decode(encode(original)) == original


def test_segments_go_once_their_records_are_done(tmp_path: Path) -> None:
    box = Outbox(tmp_path, "me", seal_every_s=0)
    box.open()
    first = [box.append(record(i)) for i in (1, 2)]
    fd = box.seal()
    assert fd is not None
    Outbox.sync_and_close(fd)
    second = box.append(record(3))
    assert set(first) == {0} and second == 1
    box.done({0: 1})
    assert (tmp_path / "me.00000000.jsonl").exists()  # one of its records is still on its way
    box.done({0: 1})
    assert not (tmp_path / "me.00000000.jsonl").exists()
    box.done({1: 1})
    assert box.seal() is None  # everything in it was done: deleted at once, nothing to sync
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["me.00000002.jsonl"]
    box.close(clean=True)
    assert list(tmp_path.iterdir()) == []


def test_a_dead_process_leaves_its_records_for_the_next_one(tmp_path: Path) -> None:
    box = Outbox(tmp_path, "dead")
    box.open()
    for i in (1, 2, 3):
        box.append(record(i))
    assert list(orphans(tmp_path, "me")) == []  # alive: its lock is held
    box.close(clean=False)  # as a killed process leaves it
    [orphan] = list(orphans(tmp_path, "me"))
    assert orphan.origin == "dead"
    assert [r.seq for r in orphan.records()] == [1, 2, 3]
    assert list(orphans(tmp_path, "someone-else")) == []  # we hold it while we replay
    orphan.release(replayed=True)
    assert list(tmp_path.iterdir()) == []


def test_a_cut_line_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "x.00000000.jsonl"
    path.write_bytes(encode(record(1)) + encode(record(2))[:20] + b"\n" + encode(record(3)))
    assert [r.seq for r in read_records(path)] == [1, 3]
