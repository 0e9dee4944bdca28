"""One engine turn for a media job: wait in the engine's fair queue, run, give the turn back.

The speech engines answer a whole request at once (no stream), and aiohttp does not cancel a
handler whose client left. So the turn watches the client (`gone`) while it waits and while it
runs, and cancels itself when the client is gone: a waiting request leaves the queue, a running
one stops its engine, and the next request gets the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from omnigate.engines.scheduler import FairScheduler, QueueFull
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure

T = TypeVar("T")
# How often a running turn looks whether its client is still there (seconds).
WATCH_S = 0.1


async def acquire(scheduler: FairScheduler, model_id: str, account_id: int) -> None:
    """A place in the engine's fair queue; a full queue is a 429 the client may retry."""
    try:
        await scheduler.acquire(account_id)
    except QueueFull as exc:
        raise UpstreamFailure(
            ApiError(
                429,
                f"Too Many Requests: the local model {model_id!r} is busy ({exc}).",
                code="engine_busy",
                headers={"Retry-After": "2"},
            ),
            retryable=True,
        ) from exc


async def take_turn(
    scheduler: FairScheduler,
    model_id: str,
    account_id: int,
    work: Callable[[], Awaitable[T]],
    gone: Callable[[], bool] | None = None,
) -> T:
    async def turn() -> T:
        await acquire(scheduler, model_id, account_id)
        try:
            return await work()
        finally:
            scheduler.release()

    if gone is None:
        return await turn()
    task = asyncio.ensure_future(turn())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=WATCH_S)
            if done:
                return task.result()
            if gone():
                await _stop(task)
                raise UpstreamFailure(
                    ApiError(499, "Client Closed Request: the client left before the answer.", code="gone"),
                    retryable=False,
                )
    except asyncio.CancelledError:
        await _stop(task)
        raise


async def _stop(task: asyncio.Future) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
