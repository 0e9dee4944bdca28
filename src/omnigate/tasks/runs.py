"""The part of the task runner that runs assistant runs (assistants/execute.py): at most
`[assistants] concurrency` turns at once in this process, each under a lease (store/assistants.py)
kept alive while it runs, so that runners on several machines share the work and a dead runner's
runs are taken over when their leases run out.

A streamed run is not claimed here: the request that streams it inserts it with this process's
lease already taken and hands it to `adopt`, with the queue its events go to. Should the client
leave, the turn goes on to its end (as OpenAI's runs do); should the process die, the lease runs
out and any runner takes the run over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from omnigate.store.assistants import RunRow
from omnigate.tasks.pool import LeasedPool

if TYPE_CHECKING:
    from omnigate.assistants.execute import Emit, Turn
    from omnigate.gateway import Gateway

log = logging.getLogger(__name__)


class RunRunner(LeasedPool):
    def __init__(self, gw: Gateway, owner: str, wake: Callable[[], None]) -> None:
        super().__init__(gw, owner, wake)
        self._turns: dict[str, Turn] = {}  # by run id: to stop one a client cancels

    async def claim(self) -> int:
        room = self.room(self.gw.settings.assistants.concurrency)
        if not room:
            return 0
        rows = await asyncio.to_thread(
            self.gw.db.claim_runs, self.owner, limit=room, lease_s=self.gw.settings.tasks.lease_s
        )
        for row in rows:
            self.adopt(row)
        return len(rows)

    def adopt(self, row: RunRow, emit: Emit | None = None) -> asyncio.Task:
        """Run a turn of a run this process holds the lease of; `emit` gets its events."""
        from omnigate.assistants.execute import Turn  # api/ and assistants/ import the gateway

        turn = Turn(self.gw, row, self.owner, emit or _nowhere)
        self._turns[row.id] = turn
        return self._start(self._run(turn), f"omnigate-run-{row.id}")

    def cancelled(self, run_id: str) -> None:
        """A client asked to cancel a run: a turn of it in this process stops at once (one in
        another process sees `cancelling` when it next renews its lease)."""
        turn = self._turns.get(run_id)
        if turn is not None:
            turn.stop.set()
        self._wake()

    def _release_leases(self) -> None:
        self.gw.db.release_run_leases(self.owner)

    async def _run(self, turn: Turn) -> None:
        keeper = asyncio.create_task(self._keep_lease(turn))
        try:
            await turn.go()
        except Exception:
            # Its lease runs out and a runner tries it again; a listener is told.
            log.exception("assistant run %s failed", turn.row.id)
            error = {
                "type": "api_error",
                "message": "Internal server error",
                "param": None,
                "code": "internal_error",
            }
            turn.emit("error", error)
        finally:
            keeper.cancel()
            self._turns.pop(turn.row.id, None)
            turn.emit("", {})  # the end of the turn's events

    async def _keep_lease(self, turn: Turn) -> None:
        lease_s = self.gw.settings.tasks.lease_s
        while True:
            await asyncio.sleep(lease_s / 3)
            status = await asyncio.to_thread(self.gw.db.renew_run_lease, turn.row.id, self.owner, lease_s)
            if status != "in_progress" and status != "queued":
                turn.stop.set()  # cancelling, or no longer this runner's
                if status is None:
                    return


def _nowhere(event: str, data: dict) -> None:
    return None
