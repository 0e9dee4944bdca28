"""The part of the task runner that runs batches, of both kinds (message batches and OpenAI's
file-based ones): at most `[batches] concurrency` requests at once in this process, each under a
lease (store/batches.py) kept alive while its call runs, so that runners on several machines
share the work and a dead runner's requests are taken over when their leases run out. What one
request does is api/batch_entry.py; an OpenAI batch whose last request ended gets its files
(tasks/batch_files.py) from the runner that ended it, or else from the next housekeeping round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from omnigate.store.batches import EntryRow
from omnigate.tasks.batch_files import finalize

if TYPE_CHECKING:
    from omnigate.gateway import Gateway

log = logging.getLogger(__name__)
# An answered request whose runner stopped is charged from the database only after this: the dead
# process's outbox (replayed at the next start, or by a running process within 10 s) may still
# bring its charge to the ledger.
SETTLE_AFTER_S = 60.0


class BatchRunner:
    def __init__(self, gw: Gateway, owner: str, wake: Callable[[], None]) -> None:
        self.gw = gw
        self.owner = owner
        self._wake = wake  # the runner claims again at once: a request ended, so there is room
        self._busy: set[asyncio.Task] = set()

    async def claim(self) -> int:
        """Take the requests that are due, as many as there is room for; returns how many."""
        room = self.gw.settings.batches.concurrency - len(self._busy)
        if room <= 0:
            return 0
        entries = await asyncio.to_thread(
            self.gw.db.claim_batch_entries,
            self.owner,
            limit=room,
            lease_s=self.gw.settings.tasks.lease_s,
            settle_after_s=SETTLE_AFTER_S,
        )
        for entry in entries:
            step = asyncio.create_task(self._run(entry), name=f"omnigate-batch-{entry.request_id}")
            self._busy.add(step)
            step.add_done_callback(self._ended)
        return len(entries)

    def _ended(self, step: asyncio.Task) -> None:
        self._busy.discard(step)
        self._wake()

    async def idle(self) -> None:
        while self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)

    async def stop(self) -> None:
        """Requests in hand are left for the next runner (their leases end now)."""
        for step in list(self._busy):
            step.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.gw.db.release_entry_leases, self.owner)

    async def housekeeping(self) -> None:
        """End expired requests, those of canceled batches, and batches with none left; write
        the files of OpenAI batches that ended without them (canceled, expired, or their runner
        stopped before writing them)."""
        await asyncio.to_thread(self.gw.db.sweep_batches)
        for batch_id in await asyncio.to_thread(self.gw.db.batches_to_finalize):
            try:
                await finalize(self.gw, batch_id)
            except Exception:
                log.exception("batch %s: writing its files failed; the next round tries again", batch_id)

    async def _run(self, entry: EntryRow) -> None:
        # api/ imports the gateway, which imports the runner: imported here, when first used.
        from omnigate.api.batch_entry import run_entry

        keeper = asyncio.create_task(self._keep_lease(entry))
        try:
            await run_entry(self.gw, entry, self.owner)
            if entry.endpoint is not None:  # an OpenAI batch: its files, when this ended it
                await finalize(self.gw, entry.batch_id)
        except Exception:
            # Its lease runs out and a runner tries it again.
            log.exception("batch request %s failed", entry.request_id)
        finally:
            keeper.cancel()

    async def _keep_lease(self, entry: EntryRow) -> None:
        lease_s = self.gw.settings.tasks.lease_s
        while True:
            await asyncio.sleep(lease_s / 3)
            renewed = await asyncio.to_thread(
                self.gw.db.renew_entry_lease, entry.batch_id, entry.idx, self.owner, lease_s
            )
            if not renewed:
                return
