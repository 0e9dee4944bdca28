"""The request log's writer: an observer that keeps each finished request's record as a row and
writes the rows in batches, in a worker thread, off the request path.

`observe` only appends to a list (it runs on the event loop, after the answer). A background task
flushes that list every `flush_interval_s` and once more at shutdown. While the database is away
the rows wait, at most `max_pending` of them: beyond that, rows are dropped and counted, so an
outage costs log rows, never memory without bound or a slower request.

Requests that no key made (a wrong key, an unknown route) are not logged: they belong to no
account, and a flood of them must not become a flood of writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from omnigate.store.request_log import RequestLogStore
from omnigate.store.rows import LoggedRequest
from omnigate.telemetry.record import RequestRecord

log = logging.getLogger(__name__)


class RequestLogWriter:
    def __init__(self, db: RequestLogStore, *, flush_interval_s: float, max_pending: int) -> None:
        self.db = db
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.written = 0  # rows that reached the database
        self.dropped = 0  # rows lost: the buffer was full while the database was away
        self._pending: list[LoggedRequest] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._failing = False

    def observe(self, record: RequestRecord) -> None:
        if record.account_id is None or record.key_prefix is None:
            return
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(row_of(record))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="omnigate-request-log")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._pending:
            log.warning(
                "the request log lost %d rows at shutdown: the database did not take them", self.pending
            )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending; on failure keep it (up to `max_pending`) for the next round."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await asyncio.to_thread(self.db.write_request_log, batch)
            except Exception as exc:
                room = max(0, self.max_pending - len(self._pending))
                kept = batch[:room]
                self.dropped += len(batch) - len(kept)
                self._pending[:0] = kept
                if not self._failing:  # once per outage, not once per round
                    log.warning("the request log cannot reach the database (%s); rows wait", exc)
                self._failing = True
                return
            self.written += len(batch)
            if self._failing:
                log.info("the request log reaches the database again (%d rows dropped so far)", self.dropped)
            self._failing = False


def row_of(record: RequestRecord) -> LoggedRequest:
    assert record.account_id is not None and record.key_prefix is not None
    return LoggedRequest(
        request_id=record.request_id,
        created_at=record.started_at,
        account_id=record.account_id,
        key_prefix=record.key_prefix,
        method=record.method,
        route=record.route,
        model=record.model,
        provider=record.provider,
        status=record.status,
        error_code=record.error_code,
        stream=record.stream,
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        credits=record.credits,
        duration_ms=round(record.duration_ms, 3),
        ttft_ms=round(record.ttft_ms, 3) if record.ttft_ms is not None else None,
        overhead_ms=round(record.overhead_ms, 3),
    )
