"""Keeps a server's in-memory state and the database in step, off the hot path.

One background task, in a loop:
- flushes settled charges to the ledger in batches (one transaction per batch);
- polls the change feed and reloads the keys and accounts that changed elsewhere (the CLI, the
  admin API of another replica), so admin actions reach every server within a second.
Database calls run in a worker thread; state is only touched on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from omnigate.billing.book import LedgerQueue
from omnigate.http.auth import KeyCache
from omnigate.store.db import Change, Database, StoreError

log = logging.getLogger(__name__)


class StateSync:
    def __init__(
        self,
        db: Database,
        book: LedgerQueue,
        keys: KeyCache,
        *,
        flush_interval_s: float,
        poll_interval_s: float,
    ) -> None:
        self.db = db
        self.book = book
        self.keys = keys
        self.origin = f"server-{uuid.uuid4().hex[:12]}"
        self.flush_interval_s = flush_interval_s
        self.poll_interval_s = poll_interval_s
        self._last_change = 0
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._load_everything)
        self._task = asyncio.create_task(self._run(), name="omnigate-state-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Whatever was settled must reach the ledger before the process goes.
        await self.flush()

    def _load_everything(self) -> None:
        # Read the feed position first: a change made during the load is then applied twice,
        # which is harmless, instead of being missed.
        self._last_change = self.db.last_change_id()
        for account in self.db.list_accounts():
            self.book.refresh(account)
        for key in self.db.list_keys():
            self.keys.put(key)

    async def _run(self) -> None:
        next_poll = 0.0
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
                if time.monotonic() >= next_poll:
                    await self.poll()
                    next_poll = time.monotonic() + self.poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be briefly away; entries stay queued and the next round retries.
                log.exception("state sync failed; retrying")

    async def flush(self) -> None:
        async with self._lock:
            entries = self.book.take_pending()
            if not entries:
                return
            try:
                deltas = await asyncio.to_thread(self.db.write_ledger, entries, origin=self.origin)
            except BaseException:
                self.book.requeue(entries)
                raise
            self.book.flushed(deltas)

    async def poll(self) -> None:
        async with self._lock:
            changes = await asyncio.to_thread(
                self.db.changes_since, self._last_change, skip_origin=self.origin
            )
            if not changes:
                return
            rows = await asyncio.to_thread(self._read_changed, changes)
            for kind, row in rows:
                if kind == "account":
                    self.book.refresh(row)
                else:
                    self.keys.put(row)
            self._last_change = changes[-1].id

    def _read_changed(self, changes: list[Change]) -> list[tuple[str, object]]:
        rows: list[tuple[str, object]] = []
        for change in {(c.kind, c.ref): c for c in changes}.values():
            try:
                if change.kind == "account":
                    rows.append(("account", self.db.account(int(change.ref))))
                elif change.kind == "key":
                    key = self.db.key(change.ref)
                    # A key can arrive before its account's own change row is read.
                    rows.append(("account", self.db.account(key.account_id)))
                    rows.append(("key", key))
            except StoreError:
                log.warning("change %s refers to a missing %s", change.id, change.kind)
        return rows
