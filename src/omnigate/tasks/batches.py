"""The part of the task runner that runs batches, of both kinds (message batches and OpenAI's
file-based ones): at most `[batches] concurrency` requests at once in this process, each under a
lease (store/batches.py) kept alive while its call runs, so that runners on several machines
share the work and a dead runner's requests are taken over when their leases run out. What one
request does is api/batch_entry.py; an OpenAI batch whose last request ended gets its files
(tasks/batch_files.py) from the runner that ended it, or else from the next housekeeping round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from omnigate.store.batches import EntryRow
from omnigate.tasks.batch_files import finalize
from omnigate.tasks.pool import LeasedPool

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
# An answered request whose runner stopped is charged from the database only after this: the dead
# process's outbox (replayed at the next start, or by a running process within 10 s) may still
# bring its charge to the ledger.
SETTLE_AFTER_S = 60.0


class BatchRunner(LeasedPool):
    async def claim(self) -> int:
        """Take the requests that are due, as many as there is room for; returns how many."""
        room = self.room(self.gw.settings.batches.concurrency)
        if not room:
            return 0
        entries = await asyncio.to_thread(
            self.gw.db.claim_batch_entries,
            self.owner,
            limit=room,
            lease_s=self.gw.settings.tasks.lease_s,
            settle_after_s=SETTLE_AFTER_S,
        )
        for entry in entries:
            self._start(self._run(entry), f"omnigate-batch-{entry.request_id}")
        return len(entries)

    def _release_leases(self) -> None:
        self.gw.db.release_entry_leases(self.owner)

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
