"""GET /models/metrics: how fast each model answers through this gateway, measured on the request
log's recent successful requests: p50/p75/p90/p99 of the time to the first streamed byte
(`ttft_ms`), of output tokens per second (`tps`) and of the whole request (`duration_ms`).

The route needs no key, so its answer is computed at most once per `CACHE_S` per process: a
stream of calls costs one bounded query (store/request_log.py `recent_timings`) every few seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from omnigate.store.request_log import RequestLogStore
from omnigate.store.rows import Timing
from omnigate.store.timestamps import now

CACHE_S = 10.0
QUANTILES = (50, 75, 90, 99)


class ModelMetrics:
    def __init__(self, db: RequestLogStore, *, window_s: float) -> None:
        self.db = db
        self.window_s = window_s
        self._answer: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> dict[str, Any]:
        async with self._lock:  # callers arriving together share one query
            if self._answer is None or time.monotonic() - self._at > CACHE_S:
                since = now() - timedelta(seconds=self.window_s)
                timings = await asyncio.to_thread(self.db.recent_timings, since)
                self._answer = summarise(timings, self.window_s)
                self._at = time.monotonic()
            return self._answer

    def forget(self) -> None:
        """The next call measures again (tests, after known traffic)."""
        self._answer = None


def summarise(timings: list[Timing], window_s: float) -> dict[str, Any]:
    per_model: dict[str, list[Timing]] = defaultdict(list)
    for t in timings:
        per_model[t.model].append(t)
    data = []
    for model in sorted(per_model):
        found = per_model[model]
        ttft = [t.ttft_ms for t in found if t.ttft_ms is not None]
        tps = [rate for t in found if (rate := tokens_per_second(t)) is not None]
        data.append(
            {
                "model": model,
                "requests": len(found),
                "ttft_ms": percentiles(ttft),
                "tps": percentiles(tps),
                "duration_ms": percentiles([t.duration_ms for t in found]),
            }
        )
    return {"object": "list", "window_s": window_s, "data": data}


def tokens_per_second(t: Timing) -> float | None:
    """Output tokens over the time spent producing them: after the first byte when streamed."""
    if t.completion_tokens <= 0:
        return None
    generating_ms = t.duration_ms - (t.ttft_ms or 0.0)
    if generating_ms <= 0:
        return None
    return t.completion_tokens / (generating_ms / 1000)


def percentiles(values: list[float]) -> dict[str, float] | None:
    """Linear interpolation between the closest ranks; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    out = {}
    for q in QUANTILES:
        position = (len(ordered) - 1) * q / 100
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        out[f"p{q}"] = round(value, 3)
    return out
