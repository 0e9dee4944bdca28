"""Tasks in the database: leases that runners on several machines never share, and an end that
writes its refund once. SQLite always, PostgreSQL when it runs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from omnigate.store.db import Database
from omnigate.store.rows import LedgerEntry
from omnigate.store.tasks import TaskInput, refund_entry_id


def new_task(
    db: Database, account_id: int, number: int = 0, *, upstream_id: str | None = "up-1", **fields
) -> str:
    task_id = f"00000000-0000-0000-0000-{number:012d}:google/veo-3.1-t2v"
    values = {
        "task_id": task_id,
        "account_id": account_id,
        "key_prefix": "og-test",
        "family": "video",
        "model": "google/veo-3.1-t2v",
        "request_id": f"req-{number}",
        "status": "queued",
        "body": '{"prompt": "a cat"}',
        "provider": "svc",
        "upstream_model": "google/veo-3.1-t2v",
        "upstream_id": upstream_id,
        "first_poll_s": 0.0,
        **fields,
    }
    db.insert_task(**values)
    return task_id


def refund(task_id: str, account_id: int, credits: int) -> LedgerEntry:
    return LedgerEntry(
        entry_id=refund_entry_id(task_id.split(":")[0]), account_id=account_id, amount=credits, kind="refund"
    )


def funded(db: Database) -> int:
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    db.top_up("acme", 1000, origin="t")
    return account.id


def test_a_task_is_claimed_by_one_runner_until_its_lease_ends(db: Database) -> None:
    account_id = funded(db)
    task_id = new_task(db, account_id)
    db.set_task_charged(task_id, 300)
    first = db.claim_tasks("runner-a", limit=10, lease_s=0.3, unsettled_after_s=60)
    assert [t.id for t in first] == [task_id] and first[0].lease_owner == "runner-a"
    assert db.claim_tasks("runner-b", limit=10, lease_s=60, unsettled_after_s=60) == []
    time.sleep(0.4)
    taken_over = db.claim_tasks("runner-b", limit=10, lease_s=60, unsettled_after_s=60)
    assert [t.lease_owner for t in taken_over] == ["runner-b"]
    # The runner that lost it can neither move nor end it.
    assert not db.task_progress(task_id, "runner-a", status="generating", next_poll_s=0)
    assert not db.finish_task(
        task_id,
        "runner-a",
        status="completed",
        result="{}",
        error=None,
        charged=300,
        refund=refund(task_id, account_id, 100),
        origin="t",
    )
    assert db.task(task_id).status == "queued" and db.account(account_id).balance == 1000


def test_a_task_ends_once_with_its_refund_in_the_same_transaction(db: Database) -> None:
    account_id = funded(db)
    task_id = new_task(db, account_id)
    db.set_task_charged(task_id, 300)
    assert len(db.claim_tasks("r", limit=1, lease_s=60, unsettled_after_s=60)) == 1
    ended = db.finish_task(
        task_id,
        "r",
        status="error",
        result=None,
        error="boom",
        charged=300,
        refund=refund(task_id, account_id, 300),
        origin="t",
    )
    assert ended
    again = db.finish_task(
        task_id,
        "r",
        status="error",
        result=None,
        error="boom",
        charged=300,
        refund=refund(task_id, account_id, 300),
        origin="t",
    )
    assert not again
    assert db.account(account_id).balance == 1300 == db.ledger_sum(account_id)
    row = db.task(task_id)
    assert (row.status, row.refunded, row.error, row.lease_owner) == ("error", 300, "boom", None)
    assert [t.id for t in db.unmirrored_tasks()] == [task_id]
    db.mark_mirrored(task_id)
    assert db.unmirrored_tasks() == []


def test_only_due_tasks_with_a_recorded_charge_are_claimed(db: Database) -> None:
    account_id = funded(db)
    later = new_task(db, account_id, 1, first_poll_s=3600)
    uncharged = new_task(db, account_id, 2)
    assert db.claim_tasks("r", limit=10, lease_s=60, unsettled_after_s=60) == []
    # A charge still unrecorded after `unsettled_after_s` means its creator died: claimed, so
    # that the runner settles it from the ledger.
    assert [t.id for t in db.claim_tasks("r", limit=10, lease_s=60, unsettled_after_s=0)] == [uncharged]
    db.set_task_charged(later, 10)
    assert db.claim_tasks("r", limit=10, lease_s=60, unsettled_after_s=60) == []


def test_progress_sets_the_next_poll_and_gives_the_lease_back(db: Database) -> None:
    account_id = funded(db)
    task_id = new_task(db, account_id)
    db.set_task_charged(task_id, 300)
    db.claim_tasks("r", limit=1, lease_s=60, unsettled_after_s=60)
    assert db.task_progress(task_id, "r", status="generating", next_poll_s=0)
    row = db.task(task_id)
    assert (row.status, row.polls, row.lease_owner) == ("generating", 1, None)
    assert [t.id for t in db.claim_tasks("other", limit=1, lease_s=60, unsettled_after_s=60)] == [task_id]
    assert db.renew_lease(task_id, "other", 60) and not db.renew_lease(task_id, "r", 60)
    db.release_leases("other")
    assert db.task(task_id).lease_owner is None


def test_inputs_live_until_the_task_ends(db: Database) -> None:
    account_id = funded(db)
    audio = TaskInput("audio", "a.wav", "audio/wav", b"RIFF\x00\x01")
    task_id = new_task(db, account_id, upstream_id=None, family="stt", inputs=(audio,))
    assert db.task_inputs(task_id) == [audio]
    db.set_task_charged(task_id, 5)
    db.claim_tasks("r", limit=1, lease_s=60, unsettled_after_s=60)
    db.finish_task(
        task_id,
        "r",
        status="completed",
        result="{}",
        error=None,
        charged=5,
        refund=refund(task_id, account_id, 0),
        origin="t",
    )
    assert db.task_inputs(task_id) == []


def test_ended_tasks_are_pruned_once_mirrored_and_past_keeping(db: Database) -> None:
    account_id = funded(db)
    task_id = new_task(db, account_id)
    db.set_task_charged(task_id, 1)
    db.claim_tasks("r", limit=1, lease_s=60, unsettled_after_s=60)
    db.finish_task(
        task_id,
        "r",
        status="completed",
        result="{}",
        error=None,
        charged=1,
        refund=refund(task_id, account_id, 0),
        origin="t",
    )
    future = datetime.now(UTC) + timedelta(seconds=1)
    assert db.prune_tasks(future) == 0  # its refund has not reached the live balances yet
    db.mark_mirrored(task_id)
    assert db.prune_tasks(datetime.now(UTC) - timedelta(hours=1)) == 0  # still kept
    assert db.prune_tasks(future) == 1 and db.task(task_id) is None
    assert db.ledger_amount(refund_entry_id(task_id.split(":")[0])) == 0  # the ledger keeps it


def test_runners_claiming_at_once_never_share_a_task(db: Database) -> None:
    account_id = funded(db)
    ids = [new_task(db, account_id, n) for n in range(60)]
    for task_id in ids:
        db.set_task_charged(task_id, 1)
    claimed: list[str] = []
    lock = threading.Lock()

    def runner(name: str) -> None:
        while True:
            got = db.claim_tasks(name, limit=3, lease_s=60, unsettled_after_s=60)
            if not got:
                return
            with lock:
                claimed.extend(t.id for t in got)

    threads = [threading.Thread(target=runner, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(claimed) == Counter(ids)
