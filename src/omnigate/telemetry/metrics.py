"""Prometheus metrics: an observer of each request's record, and the text GET /metrics answers.

Requests are counted from their records (telemetry/record.py) by route template, model, provider
and status class; latency, gateway overhead and time to first token go into histograms; tokens
and credits into counters. Gauges sample the process now and then: requests in flight, ledger
entries not yet written, upstream health. The task backlog is read from the database when
scraped, since it is the same for every process.

Labels stay bounded: route templates (never paths), catalogue model ids, provider and
deployment names from the config; never keys or request ids.

With `serve --workers N` each worker writes its figures to files in $PROMETHEUS_MULTIPROC_DIR
(the supervisor makes the folder, cli.py), and whichever worker is scraped adds them all up:
prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from omnigate.telemetry.record import RequestRecord

if TYPE_CHECKING:
    from omnigate.gateway import Gateway

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The text format every Prometheus reads (all names here are plain ones, so nothing is escaped).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# How often each process hands its counts to prometheus_client and refreshes its gauges (a
# scraped process does so at once).
SAMPLE_EVERY_S = 1.0
# Model calls take from milliseconds (embeddings) to minutes (long generations).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# What the gateway itself adds is well under a millisecond when all is well.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _Tally:
    """One histogram's observations since the last flush: counts per bucket, and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = (*bounds, math.inf)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def add(self, value: float) -> None:
        # The first bucket whose bound is at least the value, as prometheus_client files it.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def flush_into(self, child: Histogram) -> None:
        if not any(self.counts):
            return
        # prometheus_client has no call that adds many observations at once; its per-bucket
        # values (the same objects its observe() updates) take them in one step each.
        buckets = child._buckets  # type: ignore[attr-defined]
        for i, count in enumerate(self.counts):
            if count:
                buckets[i].inc(count)
                self.counts[i] = 0
        child._sum.inc(self.total)  # type: ignore[attr-defined]
        self.total = 0.0


@dataclass(slots=True)
class _Series:
    """What one label set (route, method, model, provider, status) saw since the last flush.

    Requests are counted here in plain Python and handed to prometheus_client in bulk, at most
    once a second and before each scrape: its own counters and histograms take a lock per update
    (and in multiprocess mode write a memory-mapped file), some 20 µs a request in all."""

    children: tuple[Counter, Histogram, Histogram, Histogram, Counter, Counter, Counter]
    duration: _Tally
    overhead: _Tally
    ttft: _Tally
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    credits: int = 0

    def flush(self) -> None:
        requests, duration, overhead, ttft, tokens_in, tokens_out, credits = self.children
        if self.requests:
            requests.inc(self.requests)
            self.requests = 0
        self.duration.flush_into(duration)
        self.overhead.flush_into(overhead)
        self.ttft.flush_into(ttft)
        for counter, name in ((tokens_in, "tokens_in"), (tokens_out, "tokens_out"), (credits, "credits")):
            amount = getattr(self, name)
            if amount:
                counter.inc(amount)
                setattr(self, name, 0)


class Metrics:
    def __init__(self, gw: Gateway | None = None) -> None:
        self.gw = gw
        # Each counter's creation time is one more series per label set that nobody graphs.
        disable_created_metrics()
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        # A registry of its own: several gateways in one process (tests) count apart.
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self._requests = Counter(
            "omnigate_requests",
            "Requests answered, by route template, model, provider and status class",
            ("route", "method", "model", "provider", "status"),
            registry=r,
        )
        self._duration = Histogram(
            "omnigate_request_duration_seconds",
            "Time from the request's arrival to the end of its answer",
            ("route", "model"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._overhead = Histogram(
            "omnigate_gateway_overhead_seconds",
            "Time the gateway itself added to an answer that is not streamed: the duration less the "
            "time spent waiting on upstreams",
            ("route",),
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self._ttft = Histogram(
            "omnigate_time_to_first_token_seconds",
            "Streamed answers: time from the request's arrival to the first byte of the stream",
            ("route", "model"),
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self._tokens = Counter(
            "omnigate_tokens",
            "Tokens used, by direction (input, output)",
            ("model", "provider", "direction"),
            registry=r,
        )
        self._credits = Counter(
            "omnigate_credits_charged",
            "Credits charged (1 USD = 2,000,000)",
            ("model", "provider"),
            registry=r,
        )
        # Per process; with several workers, the sum (or the worst) over the live ones.
        self._in_flight = Gauge(
            "omnigate_requests_in_flight",
            "Requests being answered now",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._backlog = Gauge(
            "omnigate_ledger_outbox_depth",
            "Settled charges not yet written to the ledger in the database",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._upstream_up = Gauge(
            "omnigate_upstream_up",
            "1 while a deployment takes requests, 0 while it sits out a cool-down after failures",
            ("deployment",),
            registry=r,
            multiprocess_mode="livemin",
        )
        self._upstream_failures = Gauge(
            "omnigate_upstream_consecutive_failures",
            "Failures of a deployment since its last success",
            ("deployment",),
            registry=r,
            multiprocess_mode="livemax",
        )
        self._series: dict[tuple[str, str, str, str, int], _Series] = {}
        self._tasks = _TaskBacklog()
        self._sampler: asyncio.Task | None = None
        if self.multiprocess_dir:
            # The figures of every worker, from their files; not this process's own objects.
            self._exposed = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self._exposed, self.multiprocess_dir)
        else:
            self._exposed = self.registry
        self._exposed.register(self._tasks)

    # -- the hot path ------------------------------------------------------------------------
    def observe(self, record: RequestRecord) -> None:
        # A client may send any method token aiohttp parses (PROPFIND, ...): the rest are one label.
        method = record.method if record.method in METHODS else "other"
        key = (record.route, method, record.model or "", record.provider or "", record.status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(key)
        series.requests += 1
        series.duration.add(record.duration_ms / 1000)
        if not record.stream:  # a stream's body arrives at the upstream's pace, not the gateway's
            series.overhead.add(record.overhead_ms / 1000)
        if record.ttft_ms is not None:
            series.ttft.add(record.ttft_ms / 1000)
        series.tokens_in += record.prompt_tokens
        series.tokens_out += record.completion_tokens
        series.credits += record.credits

    def _new_series(self, key: tuple[str, str, str, str, int]) -> _Series:
        route, method, model, provider, status = key
        route = route or "unmatched"  # no route matched: the path is not a label (it is unbounded)
        status_class = STATUS_CLASSES.get(status // 100, "other")
        children = (
            self._requests.labels(route, method, model, provider, status_class),
            self._duration.labels(route, model),
            self._overhead.labels(route),
            self._ttft.labels(route, model),
            self._tokens.labels(model, provider, "input"),
            self._tokens.labels(model, provider, "output"),
            self._credits.labels(model, provider),
        )
        return _Series(children, _Tally(LATENCY_BUCKETS), _Tally(OVERHEAD_BUCKETS), _Tally(TTFT_BUCKETS))

    def flush(self) -> None:
        """Hand what was counted since the last flush to prometheus_client."""
        for series in list(self._series.values()):
            series.flush()

    # -- gauges --------------------------------------------------------------------------------
    def sample(self) -> None:
        """Flush the counts, and set this process's gauges to what it holds now."""
        self.flush()
        gw = self.gw
        if gw is None:
            return
        self._in_flight.set(gw.in_flight)
        self._backlog.set(gw.book.backlog)
        health = gw.router.health
        for label in health.seen:
            self._upstream_up.labels(label).set(1 if health.available(label) else 0)
            self._upstream_failures.labels(label).set(health.failures(label))

    async def start(self) -> None:
        self._sampler = asyncio.create_task(self._sample_loop(), name="omnigate-metrics-sampler")

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        self.flush()  # a worker's last counts still reach the folder the others are added up from

    async def _sample_loop(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:
                log.exception("metrics: sampling the gauges failed")
            await asyncio.sleep(SAMPLE_EVERY_S)

    # -- the scrape ----------------------------------------------------------------------------
    async def render(self) -> bytes:
        """The text GET /metrics answers: every worker's figures, and the task backlog."""
        self.sample()
        if self.gw is not None:
            try:
                self._tasks.counts = await asyncio.to_thread(self.gw.db.unfinished_tasks)
            except Exception as exc:  # the database is down: /ready says so; the rest still shows
                log.warning("metrics: could not count the unfinished tasks: %s", exc)
                self._tasks.counts = None
        # Reading the workers' files is blocking work: off the event loop.
        return await asyncio.to_thread(generate_latest, self._exposed)


class _TaskBacklog(Collector):
    """Queued and generating tasks, from the database (shared by every worker, so not summed)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.counts is None:
            return
        family = GaugeMetricFamily(
            "omnigate_task_queue_depth",
            "Asynchronous generations not finished yet, by status (queued, generating)",
            labels=("status",),
        )
        for status, count in self.counts.items():
            family.add_metric((status,), count)
        yield family


def clean_multiprocess_dir(folder: str) -> None:
    """Make the folder, or remove the figures a previous run left in it (before any worker starts)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))
