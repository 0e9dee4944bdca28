"""The task runner: moves each asynchronous generation from queued to completed or error.

It runs inside `omnigate serve` (and alone as `omnigate worker`), and runs the requests of message
batches (tasks/batches.py) and the turns of assistant runs (tasks/runs.py) too. Every second, or at once when
a task is created or polled, it claims the tasks that are due (store/tasks.py: a lease per task,
so runners on several machines share the work and a dead runner's tasks are taken over) and
takes one step with each: ask the upstream where its task stands, or run the job itself for a
backend without a task API. Upstream polls back off from `poll_min_s` to `poll_max_s`.

Money (the creation charge is recorded by the create handler, api/tasks.py): a task that ends
is charged its real cost by giving back the rest of what was charged at creation, everything
when it failed or expired, in the same transaction that ends it (one ledger row with the
task's own entry id). Then the live balances take the refund, once, by that id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from omnigate.billing.pricing import Tariff, Used
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, Upload
from omnigate.providers.tasks import Polled
from omnigate.store.rows import LedgerEntry
from omnigate.store.tasks import ACTIVE, TaskRow, charge_entry_id, refund_entry_id
from omnigate.tasks.artifacts import keep_artifacts
from omnigate.tasks.batches import BatchRunner
from omnigate.tasks.runs import RunRunner

if TYPE_CHECKING:
    from omnigate.gateway import Gateway

log = logging.getLogger(__name__)
# Between two claims when nothing wakes the runner; and between two housekeeping rounds.
IDLE_S = 1.0
HOUSEKEEPING_S = 10.0
# A task whose creation charge is still not recorded after this was left by a process that
# died while creating it (its outbox is replayed well within this time).
UNSETTLED_AFTER_S = 60.0


class TaskRunner:
    def __init__(self, gw: Gateway, owner: str) -> None:
        self.gw = gw
        self.owner = owner  # the lease owner: this process
        self.settings = gw.settings.tasks
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._busy: set[asyncio.Task] = set()
        self._housekept = 0.0
        self.batches = BatchRunner(gw, owner, self.nudge)  # message batches' requests
        self.runs = RunRunner(gw, owner, self.nudge)  # assistant runs

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="omnigate-task-runner")

    async def stop(self) -> None:
        """Stop taking work; tasks in hand are left for the next runner (their leases end now)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for step in list(self._busy):
            step.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)
        await self.batches.stop()
        await self.runs.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.gw.db.release_leases, self.owner)

    def nudge(self) -> None:
        """Claim due work now (a task was created, or a client polls one)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.claim()
                if time.monotonic() - self._housekept > HOUSEKEEPING_S:
                    await self.housekeeping()
            except Exception:
                log.exception("the task runner failed a round; it tries again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_S)
            self._wake.clear()

    async def claim(self) -> int:
        """Take the tasks, batch requests and assistant runs that are due, as many as there is
        room for; returns how many."""
        return await self._claim_tasks() + await self.batches.claim() + await self.runs.claim()

    async def _claim_tasks(self) -> int:
        room = self.settings.concurrency - len(self._busy)
        if room <= 0:
            return 0
        tasks = await asyncio.to_thread(
            self.gw.db.claim_tasks,
            self.owner,
            limit=room,
            lease_s=self.settings.lease_s,
            unsettled_after_s=UNSETTLED_AFTER_S,
        )
        for task in tasks:
            step = asyncio.create_task(self._step_logged(task), name=f"omnigate-task-{task.uuid}")
            self._busy.add(step)
            step.add_done_callback(self._busy.discard)
        return len(tasks)

    async def idle(self) -> None:
        """Wait until the steps in hand are done (tests, and `omnigate worker --once`)."""
        while self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)
        await self.batches.idle()
        await self.runs.idle()

    async def housekeeping(self) -> None:
        """Refunds the live balances may have missed (a runner stopped between the two writes),
        and finished tasks past keeping."""
        self._housekept = time.monotonic()
        for task in await asyncio.to_thread(self.gw.db.unmirrored_tasks):
            await self._mirror(task.id, task.account_id, task.refunded or 0, refund_entry_id(task.uuid))
        cutoff = datetime.fromtimestamp(time.time() - self.settings.keep_s, UTC)
        await asyncio.to_thread(self.gw.db.prune_tasks, cutoff)
        await self.batches.housekeeping()

    # -- one step of one task -------------------------------------------------------------------
    async def _step_logged(self, task: TaskRow) -> None:
        try:
            await self.step(task)
        except Exception:
            # Its lease runs out and a runner tries it again.
            log.exception("task %s: the step failed", task.id)

    async def step(self, task: TaskRow) -> None:
        charged = task.charged
        found = None  # the creation charge, when the ledger had to say what it was
        if charged is None:
            recorded = await asyncio.to_thread(self.gw.db.ledger_amount, charge_entry_id(task.uuid))
            if recorded is None:
                # Its creator stopped before charging it, so its client never got the id.
                failed = Polled(
                    "error", error="The gateway stopped while creating this task; nothing was charged."
                )
                await self._end(task, 0, failed)
                return
            charged = found = -recorded
        age = time.time() - task.created_at.timestamp()
        if age > self.settings.max_age_s:
            expired = Polled(
                "error", error=f"The generation did not finish within {self.settings.max_age_s:g} s."
            )
            await self._end(task, charged, expired)
            return
        backend = self.gw.backend(task.provider or "")
        if backend is None:
            gone = Polled("error", error=f"The provider {task.provider!r} is no longer configured.")
            await self._end(task, charged, gone)
            return
        try:
            if task.upstream_id is not None:
                polled = await backend.poll_task(task.family, task.upstream_id)
            else:
                polled = await self._run_job(task, backend)
        except UpstreamFailure as exc:
            if exc.retryable:
                log.warning("task %s: %s; trying again later", task.id, exc)
                await self._go_on(task, task.status, found)
                return
            polled = Polled("error", error=exc.error.message)
        except ApiError as exc:  # the job's input (a URL to fetch, say) is unusable
            polled = Polled("error", error=exc.message)
        if polled.status in ACTIVE:
            await self._go_on(task, polled.status, found)
        else:
            await self._end(task, charged, polled)

    async def _go_on(self, task: TaskRow, status: str, charged: int | None) -> None:
        wait = min(self.settings.poll_max_s, self.settings.poll_min_s * 1.5**task.polls)
        await asyncio.to_thread(
            self.gw.db.task_progress, task.id, self.owner, status=status, next_poll_s=wait, charged=charged
        )

    async def _run_job(self, task: TaskRow, backend: Any) -> Polled:
        """Run the job of a backend without a task API (it answers synchronously), keeping the
        lease alive meanwhile."""
        inputs = await asyncio.to_thread(self.gw.db.task_inputs, task.id)
        files = [Upload(i.field, i.filename, i.content_type, i.data) for i in inputs]
        job = MediaJob(task.family, orjson.loads(task.body), files, self.gw.fetcher.fetch, task.account_id)
        keeper = asyncio.create_task(self._keep_lease(task))
        try:
            result = await backend.run_media(job)
        finally:
            keeper.cancel()
        return Polled("completed", result=result.body or {}, used=result.used)

    async def _keep_lease(self, task: TaskRow) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            renewed = await asyncio.to_thread(
                self.gw.db.renew_lease, task.id, self.owner, self.settings.lease_s
            )
            if not renewed:
                log.warning("task %s: the lease was lost while its job ran", task.id)
                return

    async def _end(self, task: TaskRow, charged: int, polled: Polled) -> None:
        result: dict | None = None
        if polled.status == "completed":
            result = await keep_artifacts(self.gw, task.family, polled)
            cost, note = self._cost(task, charged, polled.used)
            refund = charged - cost
        else:
            refund, note = charged, f"task {task.id} failed: refunded"
        entry = LedgerEntry(
            entry_id=refund_entry_id(task.uuid),
            account_id=task.account_id,
            amount=refund,
            kind="refund",
            key_prefix=task.key_prefix,
            model=task.model,
            request_id=task.request_id,
            note=note,
        )
        ended = await asyncio.to_thread(
            self.gw.db.finish_task,
            task.id,
            self.owner,
            status=polled.status,
            result=orjson.dumps(result).decode() if result is not None else None,
            error=polled.error or ("The generation failed." if polled.status == "error" else None),
            charged=charged,
            refund=entry,
            origin=self.gw.sync.origin,
        )
        if ended:
            await self._mirror(task.id, task.account_id, refund, entry.entry_id)
        else:
            log.warning("task %s: another runner took it over; this one's result is dropped", task.id)

    def _cost(self, task: TaskRow, charged: int, used: Used) -> tuple[int, str]:
        """What a completed task costs (never more than was charged at creation), with the note
        its ledger row carries."""
        model = self.gw.catalog.lookup(task.model)
        backend = self.gw.backend(task.provider or "")
        by_upstream = backend is not None and backend.markup is not None
        tariff = Tariff.from_price(model.price) if model is not None else None
        if by_upstream and not (model is not None and model.operator_priced):
            cost = charged  # the upstream's own figure, charged at creation
        elif tariff is None:
            cost = charged
        elif tariff.second and not used.seconds:
            cost = charged  # its length is unknown: what was held stands
        else:
            cost = tariff.cost(used)
        if cost > charged:
            return charged, f"task {task.id} completed: cost {cost} credits, capped at the {charged} charged"
        return cost, f"task {task.id} completed: cost {cost} of the {charged} credits charged"

    async def _mirror(self, task_id: str, account_id: int, refund: int, entry_id: str) -> None:
        try:
            await self.gw.sync.credited(account_id, refund, entry_id)
        except Exception:
            log.exception("task %s: the live balance did not take its refund yet; it is tried again", task_id)
            return
        await asyncio.to_thread(self.gw.db.mark_mirrored, task_id)
