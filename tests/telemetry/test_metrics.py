"""The metrics observer counts in bulk: what it shows must be what prometheus_client's own
observe() would have shown, bucket for bucket."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from omnigate.telemetry.metrics import LATENCY_BUCKETS, Metrics
from omnigate.telemetry.record import RequestRecord


def _buckets(text: str, name: str) -> dict[str, float]:
    """Each bucket's count by its bound, and the sum as "sum"."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name + "_bucket":
                found[s.labels["le"]] = s.value
            elif s.name == name + "_sum":
                found["sum"] = round(s.value, 9)
    return found


async def test_bulk_counts_match_prometheus_clients_own_histogram() -> None:
    # Values on the bounds, between them, below the first and past the last.
    seconds = [0.0, 0.005, 0.0051, 1.0, 2.4999, 300.0, 301.0, *(b / 3 for b in LATENCY_BUCKETS)]
    metrics = Metrics()
    direct = CollectorRegistry()
    histogram = Histogram("direct", "", buckets=LATENCY_BUCKETS, registry=direct)
    for n, value in enumerate(seconds):
        record = RequestRecord(str(n), "POST", "/v1/chat/completions", datetime.now(UTC), 0.0, status=200)
        record.duration_ms = value * 1000
        metrics.observe(record)
        histogram.observe(record.duration_ms / 1000)
        if n == 3:
            await metrics.render()  # a flush half way: counts add up across flushes
    ours = _buckets((await metrics.render()).decode(), "omnigate_request_duration_seconds")
    theirs = _buckets(generate_latest(direct).decode(), "direct")
    assert ours == theirs and ours["+Inf"] == len(seconds) and ours["sum"] > 0
