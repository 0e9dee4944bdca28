"""One model, one generation at a time: a bounded waiting room, served round-robin by account.

A local model computes one answer at a time (llama.cpp contexts are not shared between threads).
Waiting requests are grouped by account and the accounts take turns, so one busy account cannot
starve the others. When the waiting room is full, callers are told to come back later (429).
"""

from __future__ import annotations

import asyncio
from collections import deque


class QueueFull(Exception):
    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} requests are already waiting")
        self.waiting = waiting


class FairScheduler:
    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._busy = False
        self._waiting: dict[int, deque[asyncio.Future[None]]] = {}
        self._turns: deque[int] = deque()  # accounts with waiters, in serving order
        self._count = 0

    @property
    def waiting(self) -> int:
        return self._count

    async def acquire(self, account_id: int) -> None:
        if not self._busy:
            self._busy = True
            return
        if self._count >= self.max_waiting:
            raise QueueFull(self._count)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting.get(account_id)
        if queue is None:
            queue = self._waiting[account_id] = deque()
            self._turns.append(account_id)
        queue.append(future)
        self._count += 1
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # our turn came just as we left: pass it on
            else:
                self._forget(account_id, future)
            raise

    def release(self) -> None:
        while self._turns:
            account_id = self._turns.popleft()
            queue = self._waiting[account_id]
            future = queue.popleft()
            self._count -= 1
            if queue:
                self._turns.append(account_id)
            else:
                del self._waiting[account_id]
            if not future.done():
                future.set_result(None)
                return
        self._busy = False

    def _forget(self, account_id: int, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(account_id)
        if queue is None or future not in queue:
            return
        queue.remove(future)
        self._count -= 1
        if not queue:
            del self._waiting[account_id]
            self._turns.remove(account_id)
