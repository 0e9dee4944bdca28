"""Keeps a server's in-memory state and the database in step, off the hot path.

One background task, in a loop:
- flushes settled charges to the ledger in batches (one transaction per batch), then deletes the
  outbox segments that held them;
- polls the change feed and reloads the keys and accounts that changed elsewhere (the CLI, the
  admin API of another replica), so admin actions reach every server within a second;
- now and then, replays the outboxes of processes that died, and prunes the change feed.

Everything that reads the database and then changes the book's view of it holds one lock, so a
balance read from the database and the charges still pending here always fit together.
Database calls run in a worker thread; state is only touched on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from omnigate.billing import limits as lim
from omnigate.billing.book import CreditBook, Pending
from omnigate.billing.outbox import Orphan, Outbox, orphans
from omnigate.billing.redis_book import RedisCreditBook
from omnigate.http.auth import KeyCache
from omnigate.store.db import Database, StoreError
from omnigate.store.ledger import LedgerWrite, is_transient
from omnigate.store.rows import AccountRow, Change, KeyRow, Limits

log = logging.getLogger(__name__)
ORPHANS_EVERY_S = 10.0
PRUNE_EVERY_S = 60.0


@dataclass(slots=True)
class Flushed:
    written: LedgerWrite
    amounts: dict[int, int]  # credits per account now in the ledger (entries written or there)
    segments: Counter[int]  # entries per outbox segment that reached the ledger


class StateSync:
    def __init__(
        self,
        db: Database,
        book: CreditBook | RedisCreditBook,
        keys: KeyCache,
        outbox: Outbox,
        *,
        flush_interval_s: float,
        poll_interval_s: float,
    ) -> None:
        self.db = db
        self.book = book
        self.keys = keys
        self.outbox = outbox
        self.origin = book.origin
        self.flush_interval_s = flush_interval_s
        self.poll_interval_s = poll_interval_s
        self._last_change = 0
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._flush_failed = False

    async def start(self) -> None:
        self.outbox.open()
        async with self._lock:
            await self._reload()
        await self.replay_orphans()
        self._task = asyncio.create_task(self._run(), name="omnigate-state-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.book.drain()
        # Whatever was settled must reach the ledger before the process goes; what cannot stays in
        # the outbox, for the next start.
        clean = False
        try:
            await self.flush()
            clean = not self._flush_failed and self.book.settled_everywhere()
        except Exception:
            log.exception("the last flush failed; the outbox keeps the charges for the next start")
        self.outbox.close(clean=clean)

    async def _run(self) -> None:
        next_poll = next_orphans = 0.0
        next_prune = time.monotonic() + PRUNE_EVERY_S
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
                now = time.monotonic()
                if now >= next_poll:
                    await self.poll()
                    next_poll = now + self.poll_interval_s
                if now >= next_orphans:
                    await self.replay_orphans()
                    next_orphans = now + ORPHANS_EVERY_S
                if now >= next_prune:
                    pruned = await asyncio.to_thread(self.db.prune_changes)
                    log.debug("pruned %d old changes", pruned)
                    next_prune = now + PRUNE_EVERY_S
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be briefly away; entries stay queued and the next round retries.
                log.exception("state sync failed; retrying")

    # -- the ledger ------------------------------------------------------------------------------
    async def flush(self) -> None:
        async with self._lock:
            await self._flush()

    async def _flush(self) -> None:
        """Under the lock: write what is pending. After a flush that failed, the database may or
        may not hold its entries (a commit whose acknowledgement was lost): until one succeeds,
        balances read from the database cannot be set against the entries still pending, so
        every read of an account (`_take_in_account`) flushes first."""
        sealed = self.outbox.seal()
        if sealed is not None:
            await asyncio.to_thread(Outbox.sync_and_close, sealed)
        batch = self.book.take_pending()
        if not batch:
            return
        try:
            flushed = await asyncio.to_thread(self._write, batch)
        except BaseException:
            self._flush_failed = True
            self.book.requeue(batch)
            raise
        self._flush_failed = False
        self.book.flushed(flushed.amounts, flushed.written.balances)
        if flushed.written.rejected:
            refused = {e.entry_id for e in flushed.written.rejected}
            self.outbox.keep_rejected([p.record for p in batch if p.entry.entry_id in refused])
        self.outbox.done(flushed.segments)

    def _write(self, batch: list[Pending]) -> Flushed:
        """In a thread: write the batch and sum up what the event loop must do with the result,
        so that its work does not grow with the batch."""
        written = self.db.write_ledger([p.entry for p in batch], origin=self.origin)
        refused = {e.entry_id for e in written.rejected}
        amounts: dict[int, int] = {}
        for item in batch:
            # Refused entries stay charged here (they are kept for replay), so not "flushed".
            if item.entry.entry_id not in refused:
                amounts[item.entry.account_id] = amounts.get(item.entry.account_id, 0) + item.entry.amount
        return Flushed(written, amounts, Counter(p.segment for p in batch))

    async def replay_orphans(self) -> None:
        """Write the charges of processes that died before flushing them (idempotent)."""
        for orphan in list(orphans(self.outbox.folder, self.origin)):
            await self._replay(orphan)

    async def _replay(self, orphan: Orphan) -> None:
        replayed = False
        try:
            records = await asyncio.to_thread(orphan.records)
            if records and isinstance(self.book, RedisCreditBook):
                await self.book.replay(orphan.origin, records)
            written = await asyncio.to_thread(
                self.db.write_ledger, [r.entry for r in records], origin=self.origin
            )
            async with self._lock:
                # Accounts the replay changed are read again; the book's pending entries stay.
                for account_id in written.deltas:
                    await self._take_in_account(account_id)
            if written.rejected:
                log.error("%d replayed entries were refused; they stay in the outbox", len(written.rejected))
            else:
                replayed = True
            log.info(
                "replayed the %d ledger entries left by process %s (%d credits were not in the ledger yet)",
                len(records),
                orphan.origin,
                -sum(written.deltas.values()),
            )
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, redis.RedisError):
                log.warning("the outbox of %s waits for the next round: %s", orphan.origin, exc)
            else:
                log.exception("replaying the outbox of %s failed", orphan.origin)
        finally:
            orphan.release(replayed=replayed)

    # -- the change feed and the caches ------------------------------------------------------------
    async def poll(self) -> None:
        async with self._lock:
            changes, complete = await asyncio.to_thread(
                self.db.changes_since, self._last_change, skip_origin=self.origin
            )
            if not complete:
                log.warning("the change feed was pruned past this server's position; reloading")
                await self._reload()
                return
            for change in {(c.kind, c.ref): c for c in changes}.values():
                await self._apply(change)
            if changes:
                self._last_change = changes[-1].id

    async def _reload(self) -> None:
        if self._flush_failed:
            await self._flush()
        # The feed position is read first: a change made during the load is applied twice,
        # which is harmless, instead of being missed.
        self._last_change = await asyncio.to_thread(self.db.last_change_id)
        for account in await asyncio.to_thread(self.db.list_accounts):
            await self._take_in_account(account.id, account)
        for key in await asyncio.to_thread(self.db.list_keys):
            await self._take_in_key(key)

    async def _apply(self, change: Change) -> None:
        try:
            if change.kind == "account":
                await self._take_in_account(int(change.ref))
            elif change.kind == "key":
                try:
                    key = await asyncio.to_thread(self.db.key, change.ref)
                except StoreError:
                    self.keys.remove(change.ref)  # deleted
                    return
                # A key can arrive before its account's own change row is read.
                await self._take_in_account(key.account_id)
                await self._take_in_key(key)
        except StoreError:
            log.warning("change %s refers to a missing %s", change.id, change.kind)

    async def refresh_account(self, account_id: int) -> AccountRow:
        """Read an account again after an admin action of this process (top-up, new limits)."""
        async with self._lock:
            return await self._take_in_account(account_id)

    async def credited(self, account_id: int, credits: int, entry_id: str) -> None:
        """Credits the database took directly (a task's refund): the live balances take them once
        (by the entry's id), and this process reads the account again (the change feed brings
        it to the others)."""
        if credits:
            await self.book.credited(account_id, credits, entry_id)
        await self.refresh_account(account_id)

    async def take_in_key(self, key: KeyRow) -> None:
        """A key this process created or changed: cached at once, its account and budget with it."""
        async with self._lock:
            await self._take_in_account(key.account_id)
            await self._take_in_key(key)

    async def lookup_key(self, key_hash: str) -> KeyRow | None:
        """A key the cache has not seen (made a moment ago by the CLI or another server)."""
        row = await asyncio.to_thread(self.db.key_by_hash, key_hash)
        if row is not None:
            await self.take_in_key(row)
        return row

    async def _take_in_account(self, account_id: int, row: AccountRow | None = None) -> AccountRow:
        if self._flush_failed:
            await self._flush()
        if row is None:
            row = await asyncio.to_thread(self.db.account, account_id)
        spent = await self._spent(row.limits, account_id=row.id)
        self.book.refresh(row)
        if spent is not None:
            self._seed(self.book.meter_for_account(row.id), row.limits, spent, account_id=row.id)
        return row

    async def _take_in_key(self, key: KeyRow) -> None:
        spent = await self._spent(key.limits, key_prefix=key.prefix)
        self.keys.put(key)
        if spent is not None:
            self._seed(self.book.meter_for_key(key.prefix), key.limits, spent, key_prefix=key.prefix)

    async def _spent(self, limits: Limits, **subject) -> int | None:
        """What the database says a budgeted key or account spent in its current period."""
        if limits.budget is None:
            return None
        start = lim.budget_period(limits.budget_period, datetime.now(UTC)).start
        return await asyncio.to_thread(
            self.db.spent_since, start or datetime.min.replace(tzinfo=UTC), **subject
        )

    def _seed(self, meter: lim.Meter, limits: Limits, db_spent: int, **subject) -> None:
        # Under the lock: the database holds every flushed charge, the book the others.
        period = lim.budget_period(limits.budget_period, datetime.now(UTC))
        since = period.start or datetime.min.replace(tzinfo=UTC)
        meter.period = period.stamp
        meter.spent = db_spent + self.book.pending_spent(since, **subject)
