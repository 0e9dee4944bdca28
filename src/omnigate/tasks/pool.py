"""What the task runner's parts that run leased work (batch requests, assistant runs) share: the
steps in hand, room for more under a concurrency cap, waiting for them, and stopping them with
their leases given back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omnigate.gateway import Gateway


class LeasedPool:
    def __init__(self, gw: Gateway, owner: str, wake: Callable[[], None]) -> None:
        self.gw = gw
        self.owner = owner  # the lease owner: this process
        self._wake = wake  # the runner claims again at once: a step ended, so there is room
        self._busy: set[asyncio.Task] = set()

    def room(self, concurrency: int) -> int:
        return max(0, concurrency - len(self._busy))

    def _start(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task:
        step = asyncio.create_task(work, name=name)
        self._busy.add(step)
        step.add_done_callback(self._ended)
        return step

    def _ended(self, step: asyncio.Task) -> None:
        self._busy.discard(step)
        self._wake()

    async def idle(self) -> None:
        while self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)

    async def stop(self) -> None:
        """Work in hand is left for the next runner (its leases end now)."""
        for step in list(self._busy):
            step.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._release_leases)

    def _release_leases(self) -> None:
        raise NotImplementedError
